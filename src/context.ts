// Per-request context: a statement-counting view of the pool, who is asking, and the shared
// services. Built by yoga for every request (see yoga.ts).
import type { Config } from './config.js';
import type { Capabilities, CapabilitiesCache } from './db/capabilities.js';
import { countStatements, type Database, type Db } from './db/pool.js';
import { limitConcurrency } from './db/requestLimits.js';
import { requestReads, shareReads, type RequestReads, type SharedReads } from './db/sharedReads.js';
import { credentialOf } from './http/auth.js';
import type { Credential } from './config.js';
import type { ConstantSamples } from './advisor/analysis/samples.js';
import type { Metrics } from './metrics.js';
import type { LiveStreams } from './live.js';

/** Long-lived services shared by every request. */
export interface AppDeps {
  config: Config;
  database: Database;
  capabilities: CapabilitiesCache;
  /** The `pgscope` schema is migrated (change log and history available). */
  ownSchemaReady: boolean;
  /** The constants statements were seen running with (src/index.ts samples them); absent: none sampled. */
  constantSamples?: ConstantSamples;
  /** The process's metrics (src/index.ts adds the process's own); absent: the app makes its own unless config.metrics is off. */
  metrics?: Metrics;
  /** The subscriptions held open (src/index.ts ends them at shutdown); absent: the app makes its own. */
  live?: LiveStreams;
}

/** What the app adds to AppDeps for every request (src/yoga.ts). */
export interface AppServices extends Omit<AppDeps, 'metrics' | 'live'> {
  /** Identical reads in flight and the read cache, shared by every request. */
  sharedReads: SharedReads;
  constantSamples: ConstantSamples;
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
  /** Who holds this request's subscriptions, for their bound: the peer address (a proxy's, behind one) and the token kind. */
  client: string;
}

/** `remoteAddress`: the TCP peer (unknown when the app is called without a socket, as tests do). */
export function createContext(deps: AppServices, request: Request, remoteAddress?: string): Context {
  const stats = { statements: 0 };
  const reads = requestReads();
  const credential = credentialOf(request.headers.get('authorization'), deps.config);
  return {
    db: limitConcurrency(countStatements(shareReads(deps.database, deps.sharedReads, reads), stats), deps.config.limits.requestConcurrency),
    stats,
    reads,
    sharedReads: deps.sharedReads,
    config: deps.config,
    database: deps.database,
    capabilities: () => deps.capabilities.get(),
    invalidateCapabilities: () => deps.capabilities.invalidate(),
    ownSchemaReady: deps.ownSchemaReady,
    constantSamples: deps.constantSamples,
    isAdmin: credential === 'admin',
    credential,
    metrics: deps.metrics,
    live: deps.live,
    client: `${remoteAddress ?? 'unknown'} ${credential}`,
  };
}
