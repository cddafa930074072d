// npm run bench [-- section ...]: runs the benchmarks against a throwaway embedded PostgreSQL
// (or BENCH_DATABASE_URL, a database the benchmark may fill with tables), prints the report and
// writes it to bench/REPORT.md. Sections: api, tables, advisor, load. Seconds per measurement: BENCH_SECONDS
// (the advisor section has its own settings, see bench/advisor.ts). BENCH_PG_BINDIR: another server
// build for the throwaway server (e.g. /usr/lib/postgresql/15/bin, with HypoPG when installed);
// BENCH_PG_PORT its port (default: a free one).
// A run of some sections replaces only those in the report (BENCH_REPORT: another report file).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres, type EmbeddedServer } from '../src/embedded/server.js';
import { queryOnce } from '../src/db/pool.js';
import { benchAdvisor } from './advisor.js';
import { benchApi } from './api.js';
import { benchLoad } from './load.js';
import { benchTables } from './tables.js';

const SECTIONS: Record<string, (url: string, seconds: number, log: (line: string) => void) => Promise<string>> = {
  api: benchApi,
  tables: benchTables,
  advisor: benchAdvisor,
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
  const header = [
    `## pgscope benchmarks, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    '',
    `PostgreSQL ${facts!.version} (${server ? 'embedded, throwaway' : 'BENCH_DATABASE_URL'}), Node ${process.version}, ` +
      `${os.availableParallelism()} cores, ${seconds} s per measurement (BENCH_SECONDS; the advisor section has its own). Ratios are measured within this run; compare them, not absolute numbers across machines.`,
  ].join('\n');
  const parts = [header];
  for (const section of sections) parts.push(await SECTIONS[section]!(url, seconds, log));
  const report = `${parts.join('\n\n')}\n`;
  console.log(report);
  const reportFile = process.env.BENCH_REPORT ?? new URL('./REPORT.md', import.meta.url);
  const partial = sections.length < Object.keys(SECTIONS).length && fs.existsSync(reportFile);
  fs.writeFileSync(reportFile, partial ? replaceSections(fs.readFileSync(reportFile, 'utf8'), header, parts.slice(1)) : report);
} finally {
  await server?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
}

/**
 * The previous report with the sections of this run replaced (or appended), each marked with this
 * run's header line: sections measured in different runs must not be compared with each other.
 */
function replaceSections(previous: string, header: string, fresh: string[]): string {
  const facts = header.split('\n').slice(2).join(' ');
  let report = previous.trimEnd();
  for (const text of fresh) {
    const [title, ...rest] = text.split('\n');
    const marked = [
      title,
      '',
      `_Measured in a separate run (${header.split('\n')[0]!.replace(/^## pgscope benchmarks, /, '')}): ${facts}_`,
      ...rest,
    ].join('\n');
    const name = /^### (\w+):/.exec(title!)?.[1];
    const block = new RegExp(`^### ${name}:[\\s\\S]*?(?=^### |(?![\\s\\S]))`, 'm');
    report = name && block.test(report) ? report.replace(block, `${marked}\n\n`).trimEnd() : `${report}\n\n${marked}`;
  }
  return `${report}\n`;
}
