// The benchmark run that bench/run.ts starts (see there for the sections and settings).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { queryOnce } from '../src/db/pool.js';
import { type EmbeddedServer, startEmbeddedPostgres } from '../src/embedded/server.js';
import { benchAdvisor } from './advisor.js';
import { benchApi } from './api.js';
import { assembleReport, README_FILE, REPORT_FILE, replaceHeadline } from './headline.js';
import type { SectionResult } from './lib.js';
import { benchLoad } from './load.js';
import { benchPartitions } from './partitions.js';
import { benchTables } from './tables.js';

type Section = (url: string, seconds: number, log: (line: string) => void) => Promise<SectionResult | string>;

const SECTIONS: Record<string, Section> = {
  api: benchApi,
  tables: benchTables,
  advisor: benchAdvisor,
  partitions: benchPartitions,
  load: benchLoad,
};

const requested = process.argv.slice(2);
const unknown = requested.filter((name) => !(name in SECTIONS));
if (unknown.length > 0) {
  console.error(`bench: unknown section ${unknown.join(', ')}; choose from ${Object.keys(SECTIONS).join(', ')}`);
  process.exit(1);
}
const sections = requested.length > 0 ? requested : Object.keys(SECTIONS);
const seconds = Number(process.env.BENCH_SECONDS ?? 6);
const log = (line: string) => console.error(line);

let server: EmbeddedServer | undefined;
let dir: string | undefined;
let url = process.env.BENCH_DATABASE_URL;
if (!url) {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgscope-bench-'));
  server = await startEmbeddedPostgres({
    dir,
    binDir: process.env.BENCH_PG_BINDIR || undefined,
    port: Number(process.env.BENCH_PG_PORT ?? 0),
    throwaway: true,
    settings: { max_connections: '200' },
  });
  await queryOnce(server.url(), 'CREATE DATABASE bench');
  url = server.url('bench');
  await queryOnce(url, 'CREATE EXTENSION pg_stat_statements');
}

try {
  const [facts] = await queryOnce<{ version: string }>(url, `SELECT current_setting('server_version') AS version`);
  const header = runHeader(facts!.version, server ? 'embedded, throwaway' : 'BENCH_DATABASE_URL');
  const fresh: string[] = [];
  for (const section of sections) {
    const result = await SECTIONS[section]!(url, seconds, log);
    fresh.push(typeof result === 'string' ? result : withHeadline(result));
  }
  const reportFile = process.env.BENCH_REPORT ?? REPORT_FILE;
  const previous = fs.existsSync(reportFile) ? fs.readFileSync(reportFile, 'utf8') : null;
  const partial = sections.length < Object.keys(SECTIONS).length && previous !== null;
  const { report, headline } = assembleReport(header, fresh, partial ? previous : null);
  console.log(report);
  fs.writeFileSync(reportFile, report);
  // the README quotes the report of record, not a scratch report elsewhere
  if (!process.env.BENCH_REPORT) fs.writeFileSync(README_FILE, replaceHeadline(fs.readFileSync(README_FILE, 'utf8'), headline));
} finally {
  await server?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
}

/** The run's facts: what ratios from another machine or another run must not be compared with. */
function runHeader(postgres: string, where: string): string {
  const cpus = os.cpus();
  const models = [...new Set(cpus.map((cpu) => cpu.model.trim()))].join(', ');
  const memory = `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`;
  return [
    `## pgscope benchmarks, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    '',
    `Machine: ${os.availableParallelism()} cores (${models || 'unknown CPU'}), ${memory} memory, ${os.platform()} ${os.release()}, ` +
      `load average ${os.loadavg()[0]!.toFixed(1)} at the start. PostgreSQL ${postgres} (${where}), Node ${process.version}. ` +
      `${seconds} s per measurement (BENCH_SECONDS; twice that per path in the api section; the advisor, partitions and load sections have their own). ` +
      'Ratios are measured within this run; compare them, not absolute numbers across machines.',
  ].join('\n');
}

/** A section's text with its headline lines, as hidden markers the headline is read back from. */
function withHeadline(result: SectionResult): string {
  return [result.report, '', ...result.headline.map((line) => `<!-- headline ${JSON.stringify(line)} -->`)].join('\n');
}
