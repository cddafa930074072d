// Loads the reference workload into a database you name:
//   npm run demo:load -- postgresql://user:password@host:5432/database [scale] [--replace]
// It creates users, activity_logs (partitioned by month), workflow_templates and audit_trails;
// it refuses to touch a database that has any of them unless --replace is given.
import { queryOnce } from '../src/db/pool.js';
import { DEMO_TABLES, loadReferenceWorkload } from '../src/demo/load.js';

const args = process.argv.slice(2);
const replace = args.includes('--replace');
const [url, scaleText = '1'] = args.filter((arg) => arg !== '--replace');
const scale = Number(scaleText);

function fail(message: string): never {
  console.error(`demo:load: ${message}`);
  process.exit(1);
}

if (!url || !/^postgres(ql)?:\/\//.test(url))
  fail('usage: npm run demo:load -- postgresql://user:password@host:5432/database [scale] [--replace]');
if (!Number.isFinite(scale) || scale <= 0 || scale > 100) fail(`scale must be a number above 0 and at most 100, got "${scaleText}"`);

const existing = await queryOnce<{ name: string }>(
  url,
  /* SQL */ `
  SELECT
    c.relname AS name
  FROM pg_class c
  WHERE c.relname = ANY ($1)
    AND c.relnamespace = to_regnamespace(current_schema())
  ORDER BY 1`,
  [[...DEMO_TABLES]],
).catch((error: Error) => fail(`cannot connect: ${error.message}`));
if (existing.length > 0 && !replace) {
  fail(`the database already has ${existing.map((row) => row.name).join(', ')}; add --replace to drop and recreate them.`);
}
await loadReferenceWorkload(url, scale, console.log);
