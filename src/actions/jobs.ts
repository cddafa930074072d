// Changes that run after their request returned (wait: false). In-process: a build belongs to the
// pgscope process that started it, and the change log (status RUNNING, session_pid) is what
// outlives the process. The jobs are tracked so that shutdown can wait for them, then interrupt.

export interface Job {
  /** The change-log entry the job finishes. */
  changeId: string;
  /** Stops the job's statement (cancels its DDL session) and records it as INTERRUPTED. */
  interrupt(): Promise<void>;
}

interface Running extends Job {
  done: Promise<void>;
}

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
      .finally(() => this.running.delete(job.changeId));
    this.running.set(job.changeId, { ...job, done });
  }

  /** Change-log ids of the jobs still running. */
  ids(): string[] {
    return [...this.running.keys()];
  }

  /** Resolves when the job with this change id is finished (at once when none runs). */
  async settled(changeId: string): Promise<void> {
    await this.running.get(changeId)?.done;
  }

  /**
   * For shutdown: lets running jobs finish for up to `graceMs`, then interrupts the rest (their
   * statements are cancelled, their entries say INTERRUPTED) and waits for them to wind down.
   */
  async stop(graceMs: number): Promise<void> {
    const all = () => Promise.all([...this.running.values()].map((job) => job.done));
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([all(), late]);
    clearTimeout(timer);
    const left = [...this.running.values()];
    await Promise.all(left.map((job) => job.interrupt().catch(() => undefined)));
    await all();
  }
}

/** The process's jobs: one runner, shared by every request and stopped by src/index.ts. */
export const backgroundJobs = new JobRunner();
