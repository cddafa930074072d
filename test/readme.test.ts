// The README's GraphQL examples must match the schema (they are what newcomers paste first).
import fs from 'node:fs';
import { Kind, parse, print, validate, type DocumentNode } from 'graphql';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { GRAPHQL_CODES } from '../src/errors.js';
import { errorCodeTable } from '../src/errorTable.js';
import { operationLimitErrors } from '../src/http/limits.js';
import { EXAMPLE_OPERATION } from '../src/yoga.js';
import { schema } from '../src/schema/index.js';
import { createTestApp } from './harness/database.js';

const readme = fs.readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const blocks = [...readme.matchAll(/```graphql\n([\s\S]*?)```/g)].map((match) => match[1]!);
const curlQueries = [...readme.matchAll(/"query":"((?:[^"\\]|\\.)*)"/g)].map((match) => JSON.parse(`"${match[1]}"`) as string);

/** Each operation of a block on its own (a block may hold several anonymous ones). */
function operations(source: string): DocumentNode[] {
  return parse(source).definitions.map((definition) => ({ kind: Kind.DOCUMENT, definitions: [definition] }));
}

const isNamedOperations = (source: string) =>
  parse(source).definitions.every((definition) => definition.kind === Kind.OPERATION_DEFINITION && definition.name !== undefined);

describe('README examples', () => {
  it('has GraphQL examples to check', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(3);
    expect(curlQueries.length).toBeGreaterThanOrEqual(2);
  });

  it('names every operation of a block that holds several, so that it runs as pasted', () => {
    const unnamed = blocks.filter((block) => parse(block).definitions.length > 1 && !isNamedOperations(block));
    expect(unnamed).toEqual([]);
  });

  const examples = [...blocks, ...curlQueries, EXAMPLE_OPERATION].flatMap(operations);
  it.each(
    examples.map((document) => [print(document).replace(/\s+/g, ' ').slice(0, 80), document] as const),
  )('validates against the schema: %s', (_, document) => {
    expect(validate(schema, document).map((error) => error.message)).toEqual([]);
  });

  const limits = loadConfig({}).limits;
  it.each(
    examples.map((document) => [print(document).replace(/\s+/g, ' ').slice(0, 80), document] as const),
  )('stays within the default limits: %s', (_, document) => {
    expect(() => parse(print(document), { maxTokens: limits.maxTokens })).not.toThrow();
    expect(operationLimitErrors(schema, document, limits).map((error) => error.message)).toEqual([]);
    expect(print(document).length).toBeLessThan(limits.maxBodyBytes);
  });
});

describe("README's error codes", () => {
  it('are the table written from src/errors.ts (npm run docs:errors)', () => {
    expect(readme).toContain(errorCodeTable());
  });

  // no database is reached: each request is refused before a resolver runs
  const api = createTestApp('postgresql://nobody@127.0.0.1:9/none');
  afterAll(() => api.close());
  const post = async (body: string) => {
    const response = await api.app.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    return ((await response.json()) as { errors?: Array<{ extensions?: { code?: string } }> }).errors?.map((e) => e.extensions?.code);
  };

  it.each([
    ['GRAPHQL_PARSE_FAILED', JSON.stringify({ query: '{ capabilities {' })],
    ['GRAPHQL_VALIDATION_FAILED', JSON.stringify({ query: '{ noSuchField }' })],
    ['OPERATION_RESOLUTION_FAILURE', JSON.stringify({ query: 'query A { __typename } query B { __typename }' })],
    ['BAD_REQUEST', '{"query": '],
  ])('include %s, as GraphQL Yoga gives it', async (code, body) => {
    expect(Object.keys(GRAPHQL_CODES)).toContain(code);
    expect(await post(body)).toEqual([code]);
  });
});
