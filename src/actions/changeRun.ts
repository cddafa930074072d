// The one path every mutation takes: plan, record, open the DDL session, execute, record the
// outcome. While this process lives no entry is left RUNNING: a change whose database session is
// lost is closed at once (FAILED, DATABASE_UNAVAILABLE) and what it created is dropped once the
// database answers again; an entry the database cannot take yet is written as soon as it can; at
// shutdown a change is interrupted and cut off within the bound jobs.ts promises.
import { performance } from 'node:perf_hooks';
import type { Session } from '../db/pool.js';
import { ErrorCode, isPgscopeError, PgscopeError } from '../errors.js';
import {
  appendStatement,
  changeLogUnavailable,
  finishEntry,
  insertEntry,
  insertKeyedEntry,
  keyedEntry,
  readEntry,
  recordCreated,
  recordRecovery,
  type ChangeContext,
  type ChangeLogger,
  type ChangeLogRow,
  type ChangePlan,
  type ChangeRequest,
  type ChangeSteps,
  type CreatedObject,
  type Finish,
} from './changeLog.js';
import { replayChange } from './idempotency.js';
import { backgroundJobs } from './jobs.js';
import { createdStates, describeLeftovers, describeStates, isLeftover, summarizeLeftovers } from './leftovers.js';
import { cleanUpAfterLoss, untilReachable, type DdlBackend } from './lostSession.js';

const say = (line: string) => console.warn(line);

/**
 * Plans, records and runs one change. Returns its entry: PLANNED for a dry run, SUCCEEDED when it
 * ran, RUNNING with wait: false. A failure is recorded (FAILED, with its code), then thrown.
 */
export async function recordChange<P extends ChangePlan>(
  ctx: ChangeContext,
  request: ChangeRequest,
  steps: ChangeSteps<P>,
): Promise<ChangeLogRow> {
  if (!ctx.ownSchemaReady) throw changeLogUnavailable(await ctx.capabilities());
  const db = ctx.database;
  // A dry run changes nothing: it neither claims a key nor replays one (the real run may follow).
  const key = request.dryRun ? undefined : request.idempotencyKey;
  if (key) {
    const earlier = await keyedEntry(db, key);
    if (earlier) return replayChange(ctx, request, earlier);
  }
  let plan: P;
  try {
    plan = await steps.plan(ctx.db);
  } catch (error) {
    const entry = await insertEntry(db, ctx, { ...request, idempotencyKey: key }, 'FAILED', []);
    await finishEntry(db, entry.id, failure(error));
    throw withChangeId(error, entry.id);
  }
  const target = plan.target ?? request.target;
  const sql = plan.statements.map((statement) => statement.sql);
  if (request.dryRun) return insertEntry(db, ctx, { ...request, target, idempotencyKey: undefined }, 'PLANNED', sql, plan.creates);

  // The DDL session first, so that the RUNNING entry names it from the start: another pgscope's
  // start-up recovery (a replica) takes a RUNNING entry whose session is gone for an orphan.
  let session: Session;
  try {
    session = await ctx.database.openSession({ applicationName: 'pgscope-ddl', lockTimeoutMs: ctx.config.ddlLockTimeoutMs });
  } catch (error) {
    const entry = await insertEntry(db, ctx, { ...request, target }, 'FAILED', [], plan.creates);
    await finishEntry(db, entry.id, failure(error));
    throw withChangeId(error, entry.id);
  }
  let entry: ChangeLogRow;
  try {
    if (key) {
      // Claimed only now that the change will run: a request refused while planning keeps no key (as Stripe does).
      const opened = await insertKeyedEntry(
        db,
        ctx,
        { ...request, target, idempotencyKey: key },
        'RUNNING',
        plan.creates ?? [],
        plan,
        session.pid,
      );
      if (!opened.claimed) {
        await session.close();
        return replayChange(ctx, request, opened.earlier);
      }
      entry = opened.entry;
    } else {
      entry = await insertEntry(db, ctx, { ...request, target }, 'RUNNING', [], plan.creates, undefined, session.pid);
    }
  } catch (error) {
    await session.close();
    throw error;
  }
  // One list, completed as the change records what it creates: a lost session's cleanup sees it whole.
  const creates = [...(plan.creates ?? [])];
  const run = new ChangeRun(ctx, entry, session, creates, () => steps.execute(session, plan, logger(ctx, entry.id, creates)));
  // Tracked whether or not a request waits for it: shutdown interrupts both kinds alike.
  backgroundJobs.start(
    { changeId: entry.id, target: ctx.target, interrupt: (ms) => run.interrupt(ms), abandon: () => run.abandon() },
    () => run.settled,
  );
  // wait: false: the outcome, failure included, is in the change log, where the client looks.
  // As recorded before it started: reading it again could already find it finished.
  if (request.wait === false) return { ...entry, session_pid: session.pid };
  await run.finished;
  return (await readEntry(db, entry.id))!;
}

function logger(ctx: ChangeContext, id: string, creates: CreatedObject[]): ChangeLogger {
  return {
    executed: (sql) => appendStatement(ctx.database, id, sql),
    created: async (object) => {
      await recordCreated(ctx.database, id, object);
      const same = creates.findIndex((o) => o.kind === object.kind && o.schema === object.schema && o.name === object.name);
      if (same >= 0) creates[same] = object;
      else creates.push(object);
    },
  };
}

type Result = { ok: true; value: unknown } | { ok: false; error: unknown; lost?: true };

/** One change on its DDL session, from its first statement until its entry is closed and (after a lost session) cleaned up. */
class ChangeRun {
  /** Settles once the outcome is recorded, or at once when the session is lost; rejects with the change's error. */
  readonly finished: Promise<void>;
  /** Settles when everything is over, a lost session's cleanup included; never rejects. */
  readonly settled: Promise<void>;
  private settleFinished: (error?: unknown) => void = () => undefined;
  private interrupted = false;
  /** Aborted when pgscope stops: cleanup after a lost session waits no longer. */
  private readonly stopping = new AbortController();
  /** Aborted when pgscope exits: nothing is retried any more. */
  private readonly abandoned = new AbortController();
  private cutOff: NodeJS.Timeout | undefined;
  private readonly backend: DdlBackend;
  private readonly started = performance.now();

  constructor(
    private readonly ctx: ChangeContext,
    private readonly entry: ChangeLogRow,
    /** The session shutdown cancels and cuts off: the change's, then the one its cleanup runs on. */
    private session: Session,
    private readonly creates: CreatedObject[],
    work: () => Promise<unknown>,
  ) {
    this.backend = { pid: session.pid, startUs: null };
    this.finished = new Promise<void>((resolve, reject) => {
      this.settleFinished = (error) => (error === undefined ? resolve() : reject(error));
    });
    // With wait: false nobody awaits it.
    this.finished.catch(() => undefined);
    this.settled = this.run(work).catch((error: unknown) => {
      say(`pgscope: change ${this.label}: its bookkeeping failed: ${(error as Error)?.message ?? String(error)}`);
      this.settleFinished(error);
    });
  }

  private get label(): string {
    return `${this.entry.id} (${this.entry.action})`;
  }

  /** Shutdown, past its grace: cancel the statement; cut the session off `windDownMs` later. */
  async interrupt(windDownMs: number): Promise<void> {
    this.interrupted = true;
    this.stopping.abort();
    this.cutOff = setTimeout(() => void this.cutOffSession(), windDownMs);
    this.cutOff.unref();
    await this.session.cancel().catch(() => false);
  }

  abandon(): void {
    this.stopping.abort();
    this.abandoned.abort();
  }

  /** Cancels what the session runs (PostgreSQL 13 does not notice a closed client while it waits) and closes it. */
  private async cutOffSession(): Promise<void> {
    const session = this.session;
    void session.cancel().catch(() => false);
    await session.close();
  }

  private async run(work: () => Promise<unknown>): Promise<void> {
    const working = this.start(work).then(
      (value): Result => ({ ok: true, value }),
      (error: unknown): Result => ({ ok: false, error }),
    );
    // A lost session ends the race at once, before the work unwinds (its statements fail one by one).
    const lost = this.session.lost.then((error): Result => ({ ok: false, error, lost: true }));
    const result = await Promise.race([working, lost]);
    clearTimeout(this.cutOff);
    const durationMs = performance.now() - this.started;
    await this.session.close();
    if (result.ok) {
      await this.close({ status: 'SUCCEEDED', outcome: result.value, durationMs });
      this.settleFinished();
    } else if (this.interrupted) {
      await this.closeInterrupted(durationMs);
      this.settleFinished(withChangeId(result.error, this.entry.id));
    } else if (result.lost) {
      const error = lostSessionError();
      // The client hears it once the entry says FAILED, or at once while the database does not answer.
      const tell = () => this.settleFinished(withChangeId(error, this.entry.id));
      say(`pgscope: change ${this.label} lost its database session (${serverWords(result.error)}); closing its entry as FAILED.`);
      await this.close({ status: 'FAILED', code: error.code, message: error.message, durationMs }, tell);
      tell();
      await this.cleanUpAfterLoss();
    } else {
      await this.close({ ...failure(result.error), durationMs });
      this.settleFinished(withChangeId(result.error, this.entry.id));
    }
  }

  private async start(work: () => Promise<unknown>): Promise<unknown> {
    const [row] = await this.ctx.database.query<{ backend_start_us: bigint | null }>(
      /* SQL */ `
      UPDATE pgscope.change_log
      SET session_pid = $2
      WHERE id = $1
      RETURNING (
        SELECT (extract(epoch FROM a.backend_start) * 1000000)::int8
        FROM pg_stat_activity a
        WHERE a.pid = $2
      ) AS backend_start_us`,
      [this.entry.id, this.session.pid],
    );
    this.backend.startUs = row?.backend_start_us == null ? null : String(row.backend_start_us);
    return work();
  }

  /**
   * Writes the entry's end, waiting for the database while it is unreachable (until pgscope exits);
   * `onWaiting` hears when that wait begins.
   */
  private async close(finish: Finish, onWaiting?: () => void): Promise<boolean> {
    let waited = false;
    const written = await untilReachable(
      () => finishEntry(this.ctx.database, this.entry.id, finish),
      this.abandoned.signal,
      () => {
        waited = true;
        onWaiting?.();
        say(
          `pgscope: change ${this.label} ended ${finish.status}, but the database does not answer; its entry is written as soon as it does.`,
        );
      },
    );
    if (!written.done) {
      say(
        `pgscope: change ${this.label} stays RUNNING in the change log: the database did not answer before pgscope stopped. The next start marks it INTERRUPTED and drops what it left.`,
      );
    } else if (waited) {
      say(`pgscope: change ${this.label}: entry written (${finish.status}), the database answers again.`);
    }
    return written.done;
  }

  /** INTERRUPTED, with what the change created and where it stands: gone, or left for the next start. */
  private async closeInterrupted(durationMs: number): Promise<void> {
    const checked = this.creates.length
      ? await untilReachable(() => createdStates(this.ctx.database, this.creates), this.abandoned.signal)
      : undefined;
    const states = checked?.done ? checked.value : undefined;
    const stopped = 'pgscope stopped while the change ran; its statement was cancelled.';
    const message = states ? `${stopped} What it was creating: ${describeStates(states)}.` : stopped;
    const recorded = await this.close({
      status: 'INTERRUPTED',
      code: ErrorCode.QUERY_TIMEOUT,
      message,
      outcome: states ? { cleanup: states } : undefined,
      durationMs,
    });
    const left = (states ?? []).filter((object) => isLeftover(object.state));
    if (recorded && left.length) {
      say(
        `pgscope: change ${this.label} was interrupted by the stop; left for the next start: ${left.map((o) => `${o.schema}.${o.name}`).join(', ')}.`,
      );
    }
  }

  /** Ends the lost backend, drops what the change created, and writes what was done into the entry. */
  private async cleanUpAfterLoss(): Promise<void> {
    if (this.creates.length === 0) return;
    const options = {
      lockTimeoutMs: this.ctx.config.ddlLockTimeoutMs,
      signal: this.stopping.signal,
      onSession: (session: Session) => (this.session = session),
    };
    const leftovers = await cleanUpAfterLoss(this.ctx.database, this.backend, this.creates, options);
    if (!leftovers) {
      say(
        `pgscope: change ${this.label}: pgscope stopped before it could clean up after the lost session; the next start drops what the change left.`,
      );
      return;
    }
    const sentence = `After the session was lost, pgscope checked what the change had created: ${describeLeftovers(leftovers)}.`;
    await untilReachable(() => recordRecovery(this.ctx.database, this.entry.id, sentence, { recovery: leftovers }), this.abandoned.signal);
    const summary = summarizeLeftovers(leftovers);
    if (summary) say(`pgscope: change ${this.label} after its lost session: ${summary}.`);
  }
}

/** What a lost session leaves on record and tells the client (never the server's text: it may name hosts). */
function lostSessionError(): PgscopeError {
  return new PgscopeError(
    ErrorCode.DATABASE_UNAVAILABLE,
    "The change's database session was lost while it ran: the server restarted or stopped, the session was terminated " +
      '(pg_terminate_backend), or the network failed. pgscope drops what the change had created as soon as the database answers ' +
      '(see this entry); retry the change then.',
  );
}

/** The server's or driver's own words, for pgscope's log only. */
function serverWords(error: unknown): string {
  return (isPgscopeError(error) ? error.serverMessage : undefined) ?? (error as Error)?.message ?? String(error);
}

/** What a failure leaves on record: a typed error's code and message; anything else stays in the log only. */
function failure(error: unknown): Finish {
  if (isPgscopeError(error)) return { status: 'FAILED', code: error.code, message: error.message };
  console.warn(`pgscope: a change failed unexpectedly: ${(error as Error)?.message ?? String(error)}`);
  return { status: 'FAILED', code: 'INTERNAL_SERVER_ERROR', message: "Unexpected error; details are in pgscope's log." };
}

/** The client finds the recorded entry of a failed change by this id (changeLog). */
function withChangeId(error: unknown, id: string): unknown {
  if (isPgscopeError(error)) error.extensions.changeId = id;
  return error;
}
