// The api section's floors: what a response over HTTP costs at least in this process, with the
// bench's own client, measured beside pgscope in the same rounds.
// - jsonFloor: the raw SQL's rows as JSON from a bare node:http handler: HTTP and JSON, no GraphQL.
// - graphqlFloor: pgscope's own schema and request context executed by graphql-js behind the same
//   handler: no Yoga, no Fetch API objects, and none of pgscope's plugins (access control, limits,
//   request log, metrics, targets, read sharing).
// pgscope over the GraphQL floor is what Yoga and those plugins add; the GraphQL floor over the
// JSON floor is what executing GraphQL adds; the JSON floor over raw SQL is HTTP and JSON's share.
import type http from 'node:http';
import { execute, parse, validate, type DocumentNode } from 'graphql';
import { createContext, type AppServices } from '../src/context.js';
import { schema } from '../src/schema/index.js';

/** Answers every request with `answer(body)` as JSON, or 500 with the error (the bench's client then stops). */
function serve(answer: (body: Buffer) => Promise<string>): http.RequestListener {
  return (request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      answer(Buffer.concat(chunks)).then(
        (text) => {
          response.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
          response.end(text);
        },
        (error: unknown) => {
          response.writeHead(500, { 'content-type': 'application/json' });
          response.end(JSON.stringify({ errors: [{ message: String(error) }] }));
        },
      );
    });
  };
}

/** The rows of `read` as `{ data: { rows } }`, 64-bit integers as strings as pgscope's BigInt sends them. */
export function jsonFloor(read: () => Promise<object[]>): http.RequestListener {
  return serve(async (body) => {
    JSON.parse(body.toString());
    const rows = (await read()) as Array<Record<string, unknown>>;
    for (const row of rows) for (const key in row) if (typeof row[key] === 'bigint') row[key] = String(row[key]);
    return JSON.stringify({ data: { rows } });
  });
}

/** Each body's operation on pgscope's schema with a fresh request context; documents parsed and validated once. */
export function graphqlFloor(services: AppServices): http.RequestListener {
  const documents = new Map<string, DocumentNode>();
  const documentOf = (query: string) => {
    let document = documents.get(query);
    if (!document) {
      document = parse(query);
      const errors = validate(schema, document);
      if (errors.length > 0) throw errors[0];
      documents.set(query, document);
    }
    return document;
  };
  return serve(async (body) => {
    const { query, variables, operationName } = JSON.parse(body.toString()) as {
      query: string;
      variables?: Record<string, unknown>;
      operationName?: string;
    };
    const result = await execute({
      schema,
      document: documentOf(query),
      variableValues: variables,
      operationName,
      contextValue: createContext(services, null),
    });
    return JSON.stringify(result);
  });
}
