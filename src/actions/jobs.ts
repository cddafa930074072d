// Changes running in this process: those of wait: false after their request returned, and those a
// request still waits for. A change belongs to the pgscope process that started it, and the change
// log (status RUNNING, session_pid) is what outlives the process. The jobs are tracked so that
// shutdown can let them finish, then interrupt them, within bounds it can promise.

import { DEFAULT_TARGET } from '../config.js';

export interface Job {
  /** The change-log entry the job finishes. */
  changeId: string;
  /** The target whose change log holds it: ids are per database. */
  target: string;
  /**
   * Stops the job's statement (cancels its DDL session) so that it winds down and records itself
   * INTERRUPTED; what still runs `windDownMs` later is cut off (its session closed).
   */
  interrupt(windDownMs: number): Promise<void>;
  /** Stops waiting for the database (bookkeeping retries, cleanup): pgscope exits now. */
  abandon(): void;
}

interface Running extends Job {
  done: Promise<void>;
}

/** After the wind-down, this long for the cut-off jobs to write their entries (a few statements on the pool). */
const RECORD_MARGIN_MS = 2_000;

export class JobRunner {
  private readonly running = new Map<string, Running>();

  /**
   * Starts `work` without awaiting it. Its errors are the job's own business (it records them in
   * the change log); one that escapes is reported to `warn`, never left as an unhandled rejection.
   */
  start(job: Job, work: () => Promise<void>, warn: (message: string) => void = console.warn): void {
    const done = Promise.resolve()
      .then(work)
      .catch((error: unknown) => warn(`pgscope: background change ${job.changeId} failed unrecorded: ${(error as Error).message}`))
      .finally(() => this.running.delete(keyOf(job.target, job.changeId)));
    this.running.set(keyOf(job.target, job.changeId), { ...job, done });
  }

  /** Change-log ids of the jobs still running (of every target). */
  ids(): string[] {
    return [...this.running.values()].map((job) => job.changeId);
  }

  /** Resolves when the job with this change id is finished (at once when none runs). */
  async settled(changeId: string, target: string = DEFAULT_TARGET): Promise<void> {
    await this.running.get(keyOf(target, changeId))?.done;
  }

  /**
   * For shutdown: lets running jobs finish for up to `graceMs`, then interrupts the rest and gives
   * them `windDownMs` (plus a moment to record themselves) before abandoning them. Resolves within
   * graceMs + windDownMs + 2 s; returns the ids of the jobs abandoned.
   */
  async stop(graceMs: number, windDownMs = 5_000): Promise<string[]> {
    await this.allDoneWithin(graceMs);
    // Not awaited: a cancel goes through the pool, which a hung database would hold up.
    for (const job of this.running.values()) void job.interrupt(windDownMs).catch(() => undefined);
    await this.allDoneWithin(windDownMs + RECORD_MARGIN_MS);
    const left = [...this.running.values()];
    for (const job of left) job.abandon();
    return left.map((job) => job.changeId);
  }

  private async allDoneWithin(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    });
    await Promise.race([Promise.all([...this.running.values()].map((job) => job.done)), late]);
    clearTimeout(timer);
  }
}

const keyOf = (target: string, changeId: string) => `${target}/${changeId}`;

/** The process's jobs: one runner, shared by every request and stopped by src/index.ts. */
export const backgroundJobs = new JobRunner();
