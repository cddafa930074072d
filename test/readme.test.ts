// The README's GraphQL examples must match the schema (they are what newcomers paste first).
import fs from 'node:fs';
import { Kind, parse, print, validate, type DocumentNode } from 'graphql';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { operationLimitErrors } from '../src/http/limits.js';
import { EXAMPLE_OPERATION } from '../src/yoga.js';
import { schema } from '../src/schema/index.js';

const readme = fs.readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const blocks = [...readme.matchAll(/```graphql\n([\s\S]*?)```/g)].map((match) => match[1]!);
const curlQueries = [...readme.matchAll(/"query":"((?:[^"\\]|\\.)*)"/g)].map((match) => JSON.parse(`"${match[1]}"`) as string);

/** Each operation of a block on its own (a block may hold several anonymous ones). */
function operations(source: string): DocumentNode[] {
  return parse(source).definitions.map((definition) => ({ kind: Kind.DOCUMENT, definitions: [definition] }));
}

describe('README examples', () => {
  it('has GraphQL examples to check', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(3);
    expect(curlQueries.length).toBeGreaterThanOrEqual(2);
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
