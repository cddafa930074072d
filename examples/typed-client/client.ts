// A typed pgscope client: plain fetch, and the types GraphQL Code Generator wrote into generated.ts
// from operations.graphql (npm run codegen:example). It compiles under tsc --strict (test/
// typedClient.test.ts checks it in CI). Run it against a pgscope:
//   PGSCOPE_URL=http://localhost:4000/graphql PGSCOPE_READ_TOKEN=... npx tsx examples/typed-client/client.ts
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { SlowQueriesQuery, SlowQueriesQueryVariables, TableSizesQuery, TableSizesQueryVariables } from './generated.js';

/** Both operations in one document: each request names the one to run (operationName). */
const DOCUMENT = readFileSync(new URL('./operations.graphql', import.meta.url), 'utf8');

/** Each operation of the document with its generated result and variables types. */
interface Operations {
  TableSizes: { data: TableSizesQuery; variables: TableSizesQueryVariables };
  SlowQueries: { data: SlowQueriesQuery; variables: SlowQueriesQueryVariables };
}

export interface PgscopeClient {
  /** The GraphQL endpoint, e.g. http://localhost:4000/graphql. */
  url: string;
  /** PGSCOPE_READ_TOKEN (or the admin token), when the server asks for one. */
  token?: string;
}

/** GraphQL errors of a response, with their stable extensions.code (README "Error codes"). */
export class PgscopeRequestError extends Error {
  constructor(
    message: string,
    readonly codes: Array<string | undefined>,
  ) {
    super(message);
    this.name = 'PgscopeRequestError';
  }
}

interface Response<Data> {
  data?: Data | null;
  errors?: Array<{ message: string; extensions?: { code?: string } }>;
}

/** Runs one operation; any error fails the whole call (a dashboard might keep the fields that worked). */
export async function request<Name extends keyof Operations>(
  client: PgscopeClient,
  operationName: Name,
  variables: Operations[Name]['variables'],
): Promise<Operations[Name]['data']> {
  const response = await fetch(client.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(client.token ? { authorization: `Bearer ${client.token}` } : {}),
    },
    body: JSON.stringify({ query: DOCUMENT, operationName, variables }),
  });
  const body = (await response.json()) as Response<Operations[Name]['data']>;
  if (body.errors?.length || !body.data) {
    const errors = body.errors ?? [];
    throw new PgscopeRequestError(
      errors.map((error) => error.message).join(' ') || `HTTP ${response.status} without data`,
      errors.map((error) => error.extensions?.code),
    );
  }
  return body.data;
}

/**
 * The size of every table, summed over all pages. sizeBytes is a BigInt: a string of digits, so the
 * sum is exact as a JavaScript bigint whatever the sizes.
 */
export async function totalTableBytes(client: PgscopeClient, pageSize = 500): Promise<{ tables: number; bytes: bigint }> {
  let tables = 0;
  let bytes = 0n;
  let after: string | null = null;
  do {
    const page: TableSizesQuery['tables'] = (await request(client, 'TableSizes', { first: pageSize, after })).tables;
    // A Query field is null only when it failed, and then request() has thrown with the error.
    if (!page) throw new PgscopeRequestError('tables was null without an error', []);
    for (const edge of page.edges) {
      tables += 1;
      bytes += BigInt(edge.node.sizeBytes);
    }
    after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
  } while (after !== null);
  return { tables, bytes };
}

export interface SlowStatement {
  query: string;
  calls: bigint;
  meanTimeMs: number;
  /** When its counters started (PostgreSQL 17+), else null. */
  statsSince: Date | null;
}

/** The statements with the largest total time, their counters as bigints and dates as Dates. */
export async function slowestStatements(client: PgscopeClient, limit = 5): Promise<SlowStatement[]> {
  const { slowQueries } = await request(client, 'SlowQueries', { limit, minMeanTimeMs: 0 });
  return (slowQueries ?? []).map((row) => ({
    query: row.query,
    calls: BigInt(row.calls),
    meanTimeMs: row.meanTimeMs,
    statsSince: row.statsSince === null ? null : new Date(row.statsSince),
  }));
}

async function main(): Promise<void> {
  const client: PgscopeClient = {
    url: process.env.PGSCOPE_URL ?? 'http://localhost:4000/graphql',
    token: process.env.PGSCOPE_READ_TOKEN ?? process.env.PGSCOPE_ADMIN_TOKEN,
  };
  const { tables, bytes } = await totalTableBytes(client);
  // Number() only for display: the sum itself stayed exact
  console.log(`${tables} tables, ${bytes} bytes (${(Number(bytes) / 2 ** 30).toFixed(2)} GiB)`);
  for (const statement of await slowestStatements(client)) {
    console.log(`${statement.calls} calls, ${statement.meanTimeMs.toFixed(2)} ms mean: ${statement.query.slice(0, 80)}`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
