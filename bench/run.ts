// npm run bench [-- section ...]: runs the benchmarks against a throwaway embedded PostgreSQL
// (or BENCH_DATABASE_URL, a database the benchmark may fill with tables), prints the report and
// writes it to bench/REPORT.md. Sections: api, tables, advisor, partitions, load (all, in that
// order, without arguments). Seconds per measurement: BENCH_SECONDS (twice that per path in the api
// section; the advisor, partitions and load sections have their own settings, see their files).
// BENCH_PG_BINDIR: another server build for the throwaway server (e.g. /usr/lib/postgresql/15/bin,
// with HypoPG when installed); BENCH_PG_PORT its port (default: a free one).
// The report opens with the machine and a headline (one line per target: measured, met or not),
// which is also copied into README.md between its `bench:headline` markers (see headline.ts).
// A run of some sections replaces only those in the report (BENCH_REPORT: another report file,
// and then README.md is left alone).
// Measured as pgscope runs: in production mode (see src/index.ts), set before anything is imported.
process.env.NODE_ENV ??= 'production';
await import('./main.js');
