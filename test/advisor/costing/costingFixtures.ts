// Named fixtures shared by the what-if and the pg_stats costing tests: the same tables,
// statements and candidates, so that both paths are held to the same verdicts.
import type { CandidateIndex, TableAccess, WorkloadStatement } from '../../../src/advisor/types.js';

// orders: 100,000 rows; customer_id has 5,000 values of 20 rows each, spread over every page
// (g % 5000); is_paid is true for half the rows; created_at grows with id (correlated).
// events: partitioned by month (2 leaves, never ANALYZEd as a parent), k has 3,000 values.
// docs: 50,000 rows with a jsonb column. customers: 5,000 rows in 500 regions (10 each).
export const FIXTURE_SQL = /* SQL */ `
  CREATE TABLE orders (
    id int PRIMARY KEY,
    customer_id int NOT NULL,
    is_paid boolean NOT NULL,
    created_at timestamptz NOT NULL,
    note text
  );
  INSERT INTO orders
  SELECT g, g % 5000, g % 2 = 0, timestamptz '2026-01-01 00:00+00' + g * interval '1 minute', md5(g::text)
  FROM generate_series(1, 100000) g;
  CREATE TABLE events (id int NOT NULL, ts date NOT NULL, k int NOT NULL) PARTITION BY RANGE (ts);
  CREATE TABLE events_2026_01 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
  CREATE TABLE events_2026_02 PARTITION OF events FOR VALUES FROM ('2026-02-01') TO ('2026-03-01');
  INSERT INTO events SELECT g, date '2026-01-01' + (g % 59), g % 3000 FROM generate_series(1, 100000) g;
  CREATE TABLE customers (id int PRIMARY KEY, region int NOT NULL, name text);
  INSERT INTO customers SELECT g, g % 500, md5(g::text) FROM generate_series(1, 5000) g;
  CREATE TABLE docs (id int PRIMARY KEY, body jsonb NOT NULL);
  INSERT INTO docs SELECT g, jsonb_build_object('kind', g % 500, 'n', g) FROM generate_series(1, 50000) g;
  ANALYZE orders;
  ANALYZE events_2026_01;
  ANALYZE events_2026_02;
  ANALYZE docs;
  ANALYZE customers;`;

const statement = (queryId: string, query: string): WorkloadStatement => ({
  queryId,
  query,
  calls: 100,
  totalTimeMs: 1000,
  meanTimeMs: 10,
  rows: 100,
});

export const STATEMENTS = {
  byCustomer: statement('101', 'SELECT * FROM orders WHERE customer_id = 42'),
  byCustomerParam: statement('102', 'SELECT id, note FROM orders WHERE customer_id = $1'),
  paid: statement('103', 'SELECT * FROM orders WHERE is_paid = $1'),
  latest: statement('104', 'SELECT id FROM orders ORDER BY created_at DESC LIMIT 10'),
  missingTable: statement('105', 'SELECT * FROM no_such_table WHERE customer_id = $1'),
  eventsByK: statement('106', 'SELECT * FROM events WHERE k = $1'),
  docsContaining: statement('107', 'SELECT id FROM docs WHERE body @> $1'),
  // planned, never run: EXPLAIN of a write inside the read-only transaction costing uses
  renote: statement('108', 'UPDATE orders SET note = $2 WHERE customer_id = $1'),
  // a join on orders.customer_id: one region's 10 customers probe an index; a third of them do not
  regionOrders: statement('109', 'SELECT o.id FROM customers c JOIN orders o ON o.customer_id = c.id WHERE c.region = $1'),
  manyRegionsOrders: statement('110', 'SELECT o.id FROM customers c JOIN orders o ON o.customer_id = c.id WHERE c.region < $1'),
  // a constant predicate kept in the text: a partial index can serve it
  unpaidByCustomer: statement('111', 'SELECT id FROM orders WHERE customer_id = $1 AND NOT is_paid'),
  noteFolded: statement('112', 'SELECT id FROM orders WHERE lower(note) = $1'),
} satisfies Record<string, WorkloadStatement>;

const access = (statement: WorkloadStatement, table: string, parts: Partial<TableAccess>): TableAccess => ({
  queryId: statement.queryId,
  schema: 'public',
  table,
  predicates: [],
  sort: [],
  limit: null,
  partialPredicate: null,
  readColumns: null,
  ...parts,
});

const equality = (column: string, constant?: string) => ({
  column,
  expression: null,
  use: 'EQUALITY' as const,
  ...(constant ? { constant } : {}),
});

export const ACCESSES: TableAccess[] = [
  access(STATEMENTS.byCustomer, 'orders', { predicates: [equality('customer_id', '42')] }),
  access(STATEMENTS.byCustomerParam, 'orders', { predicates: [equality('customer_id')], readColumns: ['id', 'note'] }),
  access(STATEMENTS.paid, 'orders', { predicates: [equality('is_paid')] }),
  access(STATEMENTS.latest, 'orders', {
    sort: [{ column: 'created_at', expression: null, use: 'SORT', direction: 'DESC' }],
    limit: 10,
    readColumns: ['id'],
  }),
  access(STATEMENTS.missingTable, 'orders', { predicates: [equality('customer_id')] }),
  access(STATEMENTS.renote, 'orders', { predicates: [equality('customer_id')] }),
  access(STATEMENTS.regionOrders, 'orders', { predicates: [equality('customer_id')], readColumns: ['id', 'customer_id'] }),
  access(STATEMENTS.manyRegionsOrders, 'orders', { predicates: [equality('customer_id')], readColumns: ['id', 'customer_id'] }),
  access(STATEMENTS.unpaidByCustomer, 'orders', {
    predicates: [equality('customer_id')],
    partialPredicate: 'NOT is_paid',
    readColumns: ['id'],
  }),
  access(STATEMENTS.noteFolded, 'orders', {
    predicates: [{ column: null, expression: 'lower(note)', use: 'EQUALITY' }],
    readColumns: ['id'],
  }),
  access(STATEMENTS.eventsByK, 'events', { predicates: [equality('k')] }),
  access(STATEMENTS.docsContaining, 'docs', {
    predicates: [{ column: 'body', expression: null, use: 'JSONB_CONTAINS' }],
    readColumns: ['id'],
  }),
];

export const WORKLOAD = { statements: Object.values(STATEMENTS), accesses: ACCESSES };

const candidate = (table: string, columns: string[], forQueryIds: string[], extra: Partial<CandidateIndex> = {}): CandidateIndex => ({
  schema: 'public',
  table,
  method: 'btree',
  keys: columns.map((column) => ({ column, expression: null, direction: null, nulls: null, opclass: null })),
  where: null,
  include: [],
  forQueryIds,
  ...extra,
});

export const CANDIDATES = {
  customer: candidate('orders', ['customer_id'], ['101', '102', '105', '108']),
  paid: candidate('orders', ['is_paid'], ['103']),
  // the same index as customer, generated for the joins
  customerJoin: candidate('orders', ['customer_id'], ['109', '110']),
  // partial: usable by 111 (NOT is_paid), not by 102 (every row)
  unpaidCustomer: candidate('orders', ['customer_id'], ['111', '102'], { where: 'NOT is_paid' }),
  createdAt: candidate('orders', ['created_at'], ['104']),
  // an expression key: lower(note) has as many values as note (an md5 per row)
  noteLower: candidate('orders', [], ['112'], {
    keys: [{ column: null, expression: 'lower(note)', direction: null, nulls: null, opclass: null }],
  }),
  eventsK: candidate('events', ['k'], ['106']),
  docsBody: candidate('docs', ['body'], ['107'], {
    method: 'gin',
    keys: [{ column: 'body', expression: null, direction: null, nulls: null, opclass: 'jsonb_path_ops' }],
  }),
} satisfies Record<string, CandidateIndex>;

export type CandidateName = keyof typeof CANDIDATES;

/** What the planner decides for each candidate and statement, whichever path costs it. */
export const EXPECTED_VERDICTS: Array<{ candidate: CandidateName; queryId: string; usesCandidate: boolean }> = [
  { candidate: 'customer', queryId: '101', usesCandidate: true },
  { candidate: 'customer', queryId: '102', usesCandidate: true },
  { candidate: 'customer', queryId: '108', usesCandidate: true },
  { candidate: 'paid', queryId: '103', usesCandidate: false },
  { candidate: 'customerJoin', queryId: '109', usesCandidate: true },
  { candidate: 'customerJoin', queryId: '110', usesCandidate: false },
  { candidate: 'unpaidCustomer', queryId: '111', usesCandidate: true },
  { candidate: 'unpaidCustomer', queryId: '102', usesCandidate: false },
  { candidate: 'createdAt', queryId: '104', usesCandidate: true },
  { candidate: 'noteLower', queryId: '112', usesCandidate: true },
  { candidate: 'eventsK', queryId: '106', usesCandidate: true },
  { candidate: 'docsBody', queryId: '107', usesCandidate: true },
];

/** The verdicts a costing run gave, in EXPECTED_VERDICTS' order (undefined where it gave none). */
type Verdicts = ReadonlyArray<{
  candidate: CandidateIndex;
  perStatement: ReadonlyArray<{ queryId: string; after: { usesCandidate: boolean } }>;
}>;
export function verdicts(costed: Verdicts) {
  return EXPECTED_VERDICTS.map(({ candidate, queryId }) => {
    const found = costed.find((each) => each.candidate === CANDIDATES[candidate])?.perStatement.find((cost) => cost.queryId === queryId);
    return { candidate, queryId, usesCandidate: found?.after.usesCandidate };
  });
}
