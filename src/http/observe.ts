// What a person running pgscope watches: a request id on every request (taken from the client's
// X-Request-Id when it is a plain token, else made up) and returned in the response; an access
// line per request and a line per mutation in the log (src/http/requestLog.ts), never variables,
// statement texts, tokens or literals; Prometheus metrics (src/metrics.ts) at /metrics, protected
// like reads: with PGSCOPE_READ_TOKEN set, the read or admin token is needed.
import { randomUUID } from 'node:crypto';
import {
  getArgumentValues,
  getOperationAST,
  Kind,
  type DocumentNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import type { Config } from '../config.js';
import type { Context } from '../context.js';
import type { Metrics, OperationType } from '../metrics.js';
import { credentialOf, mayRead } from './auth.js';
import type { RequestLog } from './requestLog.js';

export const REQUEST_ID_HEADER = 'x-request-id';
const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const GRAPHQL_NAME = /^[_A-Za-z][_0-9A-Za-z]{0,99}$/;

interface RequestRecord {
  id: string;
  started: number;
  path: string;
  type: OperationType;
  operationName: string | null;
  fields: string[];
  codes: string[];
  changeIds: string[];
  idempotencyKeys: string[];
}

/**
 * Two plugins: the first goes before every other (the request id and the clock, so that a refusal
 * of the Host is logged too), the second after the Host and Origin checks (it serves /metrics).
 */
export function useObservability(
  config: Pick<Config, 'readToken' | 'adminToken'>,
  metrics: Metrics | null,
  log: RequestLog,
): [Plugin<Context>, Plugin<Context>] {
  const records = new WeakMap<Request, RequestRecord>();
  return [requestRecords(config, metrics, log, records), metricsEndpoint(config, metrics)];
}

function metricsEndpoint(config: Pick<Config, 'readToken' | 'adminToken'>, metrics: Metrics | null): Plugin<Context> {
  return {
    onRequest({ request, url, endResponse }) {
      if (url.pathname !== '/metrics' || metrics === null) return;
      if (request.method !== 'GET') return endResponse(new Response(null, { status: 405, headers: { allow: 'GET' } }));
      if (!mayRead(request.headers.get('authorization'), config)) {
        return endResponse(
          new Response(
            'Metrics need a token: send the header "Authorization: Bearer <PGSCOPE_READ_TOKEN>" (the admin token also reads).\n',
            {
              status: 401,
              headers: { 'WWW-Authenticate': 'Bearer realm="pgscope"', 'content-type': 'text/plain; charset=utf-8' },
            },
          ),
        );
      }
      return metrics.text().then(({ contentType, body }) => endResponse(new Response(body, { headers: { 'content-type': contentType } })));
    },
  };
}

function requestRecords(
  config: Pick<Config, 'readToken' | 'adminToken'>,
  metrics: Metrics | null,
  log: RequestLog,
  records: WeakMap<Request, RequestRecord>,
): Plugin<Context> {
  let schema: GraphQLSchema | undefined;
  /** The operation chosen (executed or subscribed): its type and root fields. */
  const noteOperation = (args: {
    contextValue: unknown;
    document: DocumentNode;
    operationName?: string | null;
    variableValues?: Record<string, unknown> | null;
  }) => {
    // yoga's own context (the request) is merged into ours
    const record = records.get((args.contextValue as { request: Request }).request);
    const operation = getOperationAST(args.document, args.operationName);
    if (!record || !operation) return;
    record.type = operation.operation;
    record.fields = rootFields(args.document, operation.selectionSet, schema, operation.operation);
    if (operation.operation === 'mutation') record.idempotencyKeys = idempotencyKeys(operation, schema, args.variableValues);
  };
  return {
    onSchemaChange({ schema: current }) {
      schema = current;
    },
    onRequest({ request, url }) {
      const given = request.headers.get(REQUEST_ID_HEADER);
      const id = given !== null && CLIENT_REQUEST_ID.test(given) ? given : randomUUID();
      records.set(request, {
        id,
        started: performance.now(),
        path: url.pathname,
        type: 'none',
        operationName: null,
        fields: [],
        codes: [],
        changeIds: [],
        idempotencyKeys: [],
      });
    },
    onParams({ request, params }) {
      const record = records.get(request);
      // a GraphQL name or nothing: the field is the client's, and may hold anything
      if (record && typeof params.operationName === 'string') {
        record.operationName = GRAPHQL_NAME.test(params.operationName) ? params.operationName : '(not a GraphQL name)';
      }
    },
    onExecute({ args }) {
      noteOperation(args);
    },
    onSubscribe({ args }) {
      noteOperation(args);
    },
    onResultProcess({ request, result }) {
      const record = records.get(request);
      if (!record || isAsyncIterable(result)) return;
      for (const each of Array.isArray(result) ? result : [result]) {
        for (const error of each.errors ?? []) {
          const code = error.extensions?.code;
          record.codes.push(typeof code === 'string' ? code : 'INTERNAL_SERVER_ERROR');
          if (typeof error.extensions?.changeId === 'string') record.changeIds.push(error.extensions.changeId);
        }
        // only a mutation's log line names change ids: a query's answer (a dashboard polling 5,000
        // tables) is not walked for them
        if (record.type === 'mutation') record.changeIds.push(...changeIdsIn(each.data));
      }
    },
    onResponse({ request, response }) {
      const record = records.get(request);
      if (!record) return;
      response.headers.set(REQUEST_ID_HEADER, record.id);
      const seconds = (performance.now() - record.started) / 1000;
      // executed, or refused with a code (parsing, validation, limits, tokens); not the GraphiQL page
      const graphql = record.path === '/graphql' && (record.type !== 'none' || record.codes.length > 0);
      if (graphql) metrics?.request(record.type, record.fields, record.codes, seconds);
      const who = credentialOf(request.headers.get('authorization'), config);
      log.access({
        requestId: record.id,
        method: request.method,
        path: record.path,
        status: response.status,
        durationMs: Math.round(seconds * 10_000) / 10,
        who,
        ...(graphql ? { type: record.type, operation: record.operationName, fields: record.fields } : {}),
        ...(record.codes.length > 0 ? { errors: record.codes } : {}),
      });
      if (record.type === 'mutation') {
        log.mutation({
          requestId: record.id,
          who,
          fields: record.fields,
          outcome: record.codes.length > 0 ? 'failed' : 'ok',
          ...(record.codes.length > 0 ? { errors: record.codes } : {}),
          ...(record.changeIds.length > 0 ? { changeIds: [...new Set(record.changeIds)] } : {}),
          ...(record.idempotencyKeys.length > 0 ? { idempotencyKeys: record.idempotencyKeys } : {}),
        });
      }
    },
  };
}

/**
 * The idempotency keys a mutation's root fields were given (`idempotencyKey`, or `input.idempotencyKey`),
 * literal or variable: only well-formed ones (the rest are refused as BAD_USER_INPUT, and a client's
 * string may hold anything).
 */
function idempotencyKeys(
  operation: OperationDefinitionNode,
  schema: GraphQLSchema | undefined,
  variables: { readonly [name: string]: unknown } | null | undefined,
): string[] {
  const fields = schema?.getMutationType()?.getFields();
  const keys: string[] = [];
  for (const selection of operation.selectionSet.selections) {
    const definition = selection.kind === Kind.FIELD ? fields?.[selection.name.value] : undefined;
    if (selection.kind !== Kind.FIELD || !definition) continue;
    let values: Record<string, unknown>;
    try {
      values = getArgumentValues(definition, selection, variables ?? {});
    } catch {
      continue; // invalid arguments: refused before any resolver, no key to tell
    }
    const key = values.idempotencyKey ?? (values.input as { idempotencyKey?: unknown } | undefined)?.idempotencyKey;
    if (typeof key === 'string' && CLIENT_REQUEST_ID.test(key)) keys.push(key);
  }
  return keys;
}

/** The root fields an operation asks for, by name, fragments followed; only the schema's own (a label must not take any string). */
function rootFields(
  document: DocumentNode,
  selectionSet: SelectionSetNode,
  schema: GraphQLSchema | undefined,
  type: OperationType,
): string[] {
  const root = type === 'query' ? schema?.getQueryType() : type === 'mutation' ? schema?.getMutationType() : schema?.getSubscriptionType();
  const known = root?.getFields() ?? {};
  const fragments = new Map(
    document.definitions.flatMap((definition) =>
      definition.kind === Kind.FRAGMENT_DEFINITION ? [[definition.name.value, definition] as const] : [],
    ),
  );
  const names = new Set<string>();
  const visit = (set: SelectionSetNode, seen: Set<string>) => {
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        if (Object.hasOwn(known, selection.name.value)) names.add(selection.name.value);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) visit(selection.selectionSet, seen);
      else if (!seen.has(selection.name.value)) {
        const fragment = fragments.get(selection.name.value);
        if (fragment) visit(fragment.selectionSet, new Set([...seen, selection.name.value]));
      }
    }
  };
  visit(selectionSet, new Set());
  return [...names].sort();
}

/** The ids of the change-log entries a mutation's answer names (`change { id }`), wherever it put them. */
function changeIdsIn(data: unknown): string[] {
  if (data === null || typeof data !== 'object') return [];
  if (Array.isArray(data)) return data.flatMap(changeIdsIn);
  const record = data as Record<string, unknown>;
  const change = record.change as { id?: unknown } | undefined;
  const own = change && typeof change.id === 'string' ? [change.id] : [];
  return [...own, ...Object.values(record).flatMap(changeIdsIn)];
}
