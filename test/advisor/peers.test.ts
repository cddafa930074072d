// The peer corpus (issue 14): what three public index advisors' test suites expect, restated in
// test/advisor/peers/ (peerCase.ts says how), asked of pgscope on a real workload
// (pg_stat_statements), each case on tables of its own.
//
// 81 cases: 24 from Dexter, 49 from PgHero, 8 from supabase index_advisor. pgscope agrees on 73
// with the pg_stats estimate (PostgreSQL 18, no HypoPG) and on 75 with HypoPG (PostgreSQL 15); the
// other cases are the KNOWN_GAPS below. In 9 cases the expert's answer is not the peer's (`peer` in
// peers/*.ts): pgscope gives the expert's answer in 5 of them with the estimate, 8 with HypoPG.
//
// A case agrees when pgscope recommends exactly the expert's indexes on the case's tables (or
// another answer the case accepts). KNOWN_GAPS lists the cases pgscope does not answer yet, with the
// reason and the costing path (HYPOPG: what-if plans; HEURISTIC: the pg_stats estimate); a gap that
// starts agreeing fails, so that the list is moved back by hand and never goes stale.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { recommendIndexes, type AdvisorReport } from '../../src/advisor/recommend.js';
import type { CandidateIndex } from '../../src/advisor/types.js';
import { detectCapabilities } from '../../src/db/capabilities.js';
import { Database } from '../../src/db/pool.js';
import { createTestDatabase, testConfig, type TestDatabase } from '../harness/database.js';
import { flushStats, RESET_THIS_DATABASE_STATEMENTS, waitForPublishedStats } from '../harness/stats.js';
import { DEXTER } from './peers/dexter.js';
import type { PeerCase, PeerGroup } from './peers/peerCase.js';
import { PGHERO } from './peers/pghero.js';
import { SUPABASE } from './peers/supabase.js';

const PEER_GROUPS: PeerGroup[] = [DEXTER, PGHERO, SUPABASE];

type Path = AdvisorReport['source'];

/**
 * `peer/name` -> why pgscope does not agree yet, on which costing paths, and the PostgreSQL majors
 * where it agrees all the same (their planner costs the case differently); absent: none.
 */
const KNOWN_GAPS: Record<string, { paths: Path[]; reason: string; agreesOnMajors?: number[] }> = {
  'PgHero/order_multiple': {
    paths: ['HEURISTIC'],
    reason:
      'the pg_stats estimate takes reading every row in the order of an uncorrelated key for cheaper than sorting them; the planner (HypoPG) does not',
  },
  'PgHero/order_multiple_direction': {
    paths: ['HEURISTIC'],
    reason: 'as order_multiple: the estimate prices a full scan in index order below the sort',
  },
  'PgHero/like_where': {
    paths: ['HEURISTIC', 'HYPOPG'],
    reason:
      'LIKE $1 is taken for a prefix, so (city_id, email) costs as little as (city_id): select.ts keeps the wider of the two (HEURISTIC), selectTogether.ts adds it as a partner of the narrower (HYPOPG)',
  },
  'PgHero/where_unique_order': {
    paths: ['HYPOPG'],
    reason: '(email, created_at) and (email) plan the same (email is unique); select.ts keeps the wider one',
  },
  'PgHero/multiple_range': {
    paths: ['HEURISTIC', 'HYPOPG'],
    reason:
      'a range of unknown width ($1) is a third of the rows to the planner and to the estimate, and an index over it still pays in their costs; only the constants could tell (costing)',
  },
  'PgHero/suggested_index_for_hash_index_gt': {
    paths: ['HEURISTIC', 'HYPOPG'],
    reason:
      'as multiple_range: zip_code > $1 over a column in physical order (one value) is a third of the table read in order, which an index pays for in the costs',
  },
  'PgHero/suggested_index_for_gist_trgm_index_equality': {
    paths: ['HEURISTIC', 'HYPOPG'],
    reason:
      "the planner's cost of = through the trigram GiST index does not count rechecking every trigram match: the B-tree saves under 10 % on paper (costing)",
    // on PostgreSQL 13 pgscope agrees (seen in CI); why 13 costs the case differently is not looked into
    agreesOnMajors: [13],
  },
  'PgHero/suggested_index_for_gist_inet_index_gt': {
    paths: ['HEURISTIC', 'HYPOPG'],
    reason:
      'coverage compares a candidate with existing indexes of its own access method only (candidates/coverage.ts), and the costing finds the B-tree cheaper than the inet_ops GiST for a third of the rows in physical order',
  },
  'supabase/multi_index': {
    paths: ['HEURISTIC'],
    reason:
      'book (author_id) pays only once review (book_id) exists; the pg_stats estimate cannot cost two indexes in one plan (selectTogether.ts)',
  },
};

/** Case setups sent in one string. */
const SETUPS_PER_CALL = 8;

/** Each statement runs this many times (a workload, not a one-off). */
const RUNS = 3;

interface Loaded {
  target: TestDatabase;
  report: AdvisorReport;
  /** Per case prefix: the indexes recommended on the case's tables. */
  answers: Map<string, string[]>;
}

const loaded = new Map<PeerGroup, Loaded>();

/** The case's table prefix: the peer's initial and its position, `d07_`. */
const prefixOf = (group: PeerGroup, index: number) => `${group.peer[0]!.toLowerCase()}${String(index).padStart(2, '0')}_`;
const withPrefix = (sql: string, prefix: string) => sql.replaceAll('{p}', prefix);
const PREFIX = /^[dps]\d\d_/;

/** `users (login_attempts, created_at DESC)`, `users USING gin (email gin_trgm_ops)`, as the cases write them. */
function shape(candidate: CandidateIndex): string {
  const unquote = (sql: string) => sql.replaceAll('"', '').replace(/^\((.*)\)$/, '$1');
  const schema = candidate.schema === 'public' ? '' : `${candidate.schema.replace(PREFIX, '')}.`;
  const method = candidate.method === 'btree' ? '' : ` USING ${candidate.method}`;
  const keys = candidate.keys.map((key) =>
    [key.column ?? unquote(key.expression!), key.opclass, key.direction === 'DESC' ? 'DESC' : null].filter(Boolean).join(' '),
  );
  const include = candidate.include.length > 0 ? ` INCLUDE (${candidate.include.join(', ')})` : '';
  const where = candidate.where ? ` WHERE ${unquote(candidate.where)}` : '';
  return `${schema}${candidate.table.replace(PREFIX, '')}${method} (${keys.join(', ')})${include}${where}`;
}

async function load(group: PeerGroup): Promise<Loaded> {
  const target = await createTestDatabase(`advisor_peers_${group.peer}`);
  await target.sql(group.seed(target));
  // the cases' tables, a few cases per connection (each call has a 30 s deadline)
  const setups = group.cases.map((peerCase, index) => withPrefix(peerCase.setup, prefixOf(group, index))).filter(Boolean);
  for (let first = 0; first < setups.length; first += SETUPS_PER_CALL)
    await target.sql(setups.slice(first, first + SETUPS_PER_CALL).join(';\n'));
  const db = new Database(target.url, { applicationName: 'pgscope-test-workload', pool: testConfig().pool });
  try {
    await db.withClient(async (client) => {
      await client.query(RESET_THIS_DATABASE_STATEMENTS);
      for (const [index, peerCase] of group.cases.entries())
        for (const statement of peerCase.statements) {
          const [text, parameters] = typeof statement === 'string' ? [statement, []] : statement;
          for (let run = 0; run < RUNS; run++) await client.query(withPrefix(text, prefixOf(group, index)), parameters);
        }
      await flushStats(client);
    });
    await waitForPublishedStats(target.url);
    const report = await recommendIndexes(db, await detectCapabilities(db), { limit: 1_000, budgetMs: 60_000 });
    const answers = new Map<string, string[]>();
    for (const { candidate } of report.recommendations) {
      const prefix = (PREFIX.exec(candidate.table) ?? PREFIX.exec(candidate.schema))?.[0] ?? '';
      answers.set(prefix, [...(answers.get(prefix) ?? []), shape(candidate)].sort());
    }
    return { target, report, answers };
  } finally {
    await db.end();
  }
}

beforeAll(async () => {
  const all = await Promise.all(PEER_GROUPS.map(load));
  for (const [index, group] of PEER_GROUPS.entries()) loaded.set(group, all[index]!);
}, 180_000);

afterAll(async () => {
  await Promise.all([...loaded.values()].map(({ target }) => target.drop()));
});

const keyOf = (group: PeerGroup, peerCase: PeerCase) => `${group.peer}/${peerCase.name}`;

function verdict(group: PeerGroup, index: number): { answer: string[]; agrees: boolean; gap: boolean; path: Path } {
  const { report, answers } = loaded.get(group)!;
  const peerCase = group.cases[index]!;
  const answer = answers.get(prefixOf(group, index)) ?? [];
  const accepted = [peerCase.expected, ...(peerCase.alsoAccepted ?? [])].map((indexes) => [...indexes].sort());
  const agrees = accepted.some((indexes) => JSON.stringify(indexes) === JSON.stringify(answer));
  const known = KNOWN_GAPS[keyOf(group, peerCase)];
  const gap = (known?.paths.includes(report.source) && !known.agreesOnMajors?.includes(inject('pgMajorVersion'))) ?? false;
  return { answer, agrees, gap, path: report.source };
}

describe.each(PEER_GROUPS)('$peer cases', (group) => {
  it('costs every candidate within the budget', () => {
    expect(loaded.get(group)!.report.budgetExhausted).toBe(false);
  });

  it.each(group.cases.map((peerCase, index) => ({ index, name: peerCase.name })))('$name', ({ index }) => {
    const { answer, agrees, gap, path } = verdict(group, index);
    const peerCase = group.cases[index]!;
    if (gap) {
      expect(agrees, `${keyOf(group, peerCase)} agrees on ${path} now: take it out of KNOWN_GAPS`).toBe(false);
      return;
    }
    if (!agrees) expect(answer, peerCase.why).toEqual(peerCase.expected);
  });
});

describe('KNOWN_GAPS', () => {
  it('names cases of the corpus', () => {
    const keys = new Set(PEER_GROUPS.flatMap((group) => group.cases.map((peerCase) => keyOf(group, peerCase))));
    expect(Object.keys(KNOWN_GAPS).filter((key) => !keys.has(key))).toEqual([]);
  });
});
