// The costing step's entry point: HypoPG's what-if plans when the extension is installed in the
// target database (candidates it cannot simulate are estimated, per candidate), else the pg_stats
// estimate for every candidate. Both give the same CostedCandidate shape (see coster.ts).
import type { Capabilities } from '../../db/capabilities.js';
import type { Db } from '../../db/pool.js';
import type { Coster } from './coster.js';
import { HeuristicCoster } from './estimate/estimateCoster.js';
import { WhatIfCoster } from './hypopg/whatIfCoster.js';

export function createCoster(db: Db, caps: Capabilities): Coster {
  return caps.hypopg.installed && caps.hypopg.schema !== null ? new WhatIfCoster(db, caps) : new HeuristicCoster(db, caps);
}
