// Per-request context: a statement-counting view of the pool, who is asking, and the shared
// services. Built by yoga for every request (see yoga.ts).
import { DEFAULT_TARGET, type Config } from './config.js';
import type { Capabilities, CapabilitiesCache } from './db/capabilities.js';
import { countStatements, type Database, type Db } from './db/pool.js';
import { limitConcurrency } from './db/requestLimits.js';
import { requestReads, shareReads, type RequestReads, type SharedReads } from './db/sharedReads.js';
import { credentialOf } from './http/auth.js';
import type { Credential } from './config.js';
import type { ConstantSamples } from './advisor/analysis/samples.js';
import type { Metrics } from './metrics.js';
import type { LiveStreams } from './live.js';

/** One database pgscope serves: its pool and what is known of it. */
export interface TargetDeps {
  database: Database;
  capabilities: CapabilitiesCache;
  /** The `pgscope` schema is migrated (change log and history available). */
  ownSchemaReady: boolean;
  /** The constants statements were seen running with (src/index.ts samples them); absent: none sampled. */
  constantSamples?: ConstantSamples;
}

/** Long-lived services shared by every request. The default target's are at the top level. */
export interface AppDeps extends TargetDeps {
  config: Config;
  /** More targets by name (PGSCOPE_TARGETS), chosen per operation; the top level is DEFAULT_TARGET. */
  targets?: ReadonlyMap<string, TargetDeps>;
  /** The process's metrics (src/index.ts adds the process's own); absent: the app makes its own unless config.metrics is off. */
  metrics?: Metrics;
  /** The subscriptions held open (src/index.ts ends them at shutdown); absent: the app makes its own. */
  live?: LiveStreams;
}

/** A target as requests use it (src/yoga.ts adds what it shares between requests). */
export interface TargetServices extends Required<TargetDeps> {
  name: string;
  /** Identical reads in flight and the read cache, shared by every request to this target. */
  sharedReads: SharedReads;
}

/** What every request's context is made from (src/yoga.ts). */
export interface AppServices {
  config: Config;
  /** Every target by name, the default first. */
  targets: ReadonlyMap<string, TargetServices>;
  metrics: Metrics | null;
  live: LiveStreams;
}

export interface Context {
  /**
   * Runs SQL through the pool, counting statements for this request, at most
   * limits.requestConcurrency at once, sharing identical reads as `reads` allows.
   */
  db: Db;
  /**
   * SQL statements this request ran (reported in the response's `extensions`): a statement
   * answered by an identical round trip already in flight or by the cache counts too (the request
   * asked for it and got its rows), so the count does not depend on what else was running.
   */
  stats: { statements: number };
  /** How this request shares reads (set when its operation starts) and how many it shared. */
  reads: RequestReads;
  sharedReads: SharedReads;
  config: Config;
  database: Database;
  capabilities(): Promise<Capabilities>;
  /** Forget the detected capabilities (a field found them stale). */
  invalidateCapabilities(): void;
  ownSchemaReady: boolean;
  /** The constants statements were seen running with: the advisor reads them, and adds what it sees when it runs. */
  constantSamples: ConstantSamples;
  /** The request carried the admin token. */
  isAdmin: boolean;
  /** Which token the request carried, by name (mutations record it; refusals explain it). */
  credential: Credential;
  /** Counts what requests did (advisor runs); null when PGSCOPE_METRICS is off. */
  metrics: Metrics | null;
  /** Subscriptions held open, bounded per client and in all. */
  live: LiveStreams;
  /** The target this request reads and changes (DEFAULT_TARGET unless its operation names another). */
  target: string;
  /** Every target this pgscope serves, the default first. */
  targetNames: string[];
  /** Who holds this request's subscriptions, for their bound: the peer address (a proxy's, behind one) and the token kind. */
  client: string;
}

/**
 * A request's context, on the default target until its operation names another (bindTarget).
 * `authorization`: the request's Authorization header (null: none). `remoteAddress`: the TCP peer
 * (unknown when the app is called without a socket, as tests do).
 */
export function createContext(services: AppServices, authorization: string | null, remoteAddress?: string): Context {
  const credential = credentialOf(authorization, services.config);
  const ctx = {
    stats: { statements: 0 },
    reads: requestReads(),
    config: services.config,
    targetNames: [...services.targets.keys()],
    isAdmin: credential === 'admin',
    credential,
    metrics: services.metrics,
    live: services.live,
    client: `${remoteAddress ?? 'unknown'} ${credential}`,
  } as Context;
  bindTarget(ctx, services.targets.get(DEFAULT_TARGET)!);
  return ctx;
}

/** Points the request at `target`: its pool, its capabilities, its change log, its shared reads. */
export function bindTarget(ctx: Context, target: TargetServices): void {
  ctx.target = target.name;
  ctx.db = limitConcurrency(
    countStatements(shareReads(target.database, target.sharedReads, ctx.reads), ctx.stats),
    ctx.config.limits.requestConcurrency,
  );
  ctx.sharedReads = target.sharedReads;
  ctx.database = target.database;
  ctx.capabilities = () => target.capabilities.get();
  ctx.invalidateCapabilities = () => target.capabilities.invalidate();
  ctx.ownSchemaReady = target.ownSchemaReady;
  ctx.constantSamples = target.constantSamples;
}
