// The reference workload (src/demo: users, activity_logs, workflow_templates, audit_trails) with
// the seed guide's query mix and its hand-picked indexes (demo/seed_indexes.sql).
import { DEMO_DIR, loadReferenceWorkload } from '../../src/demo/load.js';
import { loadQueryMix } from '../../src/demo/workload.js';
import type { AdvisorWorkload } from './workload.js';

export const reference: AdvisorWorkload = {
  name: 'reference',
  describe: (scale) =>
    `the reference workload (src/demo): ${Math.round(200_000 * scale).toLocaleString('en-US')} users, ` +
    `${Math.round(2_000_000 * scale).toLocaleString('en-US')} activity rows in monthly partitions, workflow templates and audit trails`,
  load: loadReferenceWorkload,
  mix: loadQueryMix,
  handPicked: { label: "(c) the guide's set (seed_indexes.sql)", file: `${DEMO_DIR}seed_indexes.sql` },
};
