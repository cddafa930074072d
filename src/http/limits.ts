// Limits checked before any resolver runs or any SQL is sent, so that one request cannot take the
// server down: body size while it is read, tokens while the operation is parsed, then depth,
// aliases, cost, directives and expensive fields before graphql-js's own validation (whose
// overlapping-fields rule is quadratic in the number of aliases). Measured before these limits:
// 10,000 aliases of slowQueries held the whole pool for 30 s; 200,000 aliases of poolStatus
// blocked the event loop for 8 s at 2 GB.
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import {
  GraphQLError,
  getNamedType,
  isObjectType,
  Kind,
  Lexer,
  parse,
  Source,
  TokenKind,
  validate,
  type DocumentNode,
  type GraphQLNamedType,
  type GraphQLSchema,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import { IncomingMessage } from 'node:http';
import type { Plugin } from 'graphql-yoga';
import type { LimitsConfig } from '../config.js';
import { ErrorCode, PgscopeError } from '../errors.js';

/** Root fields that hold a connection for long or run many statements; at most maxExpensiveFields per operation. */
export const EXPENSIVE_FIELDS: ReadonlySet<string> = new Set(['Query.explain', 'Query.indexRecommendations', 'Query.indexAdvisorReport']);

/** Directives per operation: pgscope's schema has only @include and @skip, a few per field at most. */
const MAX_DIRECTIVES = 50;

/**
 * Nesting of variable values (and extensions). pgscope's deepest input is 3 levels
 * (ApplyIndexInput.keys[i].column); values 5,000 levels deep overflowed the stack of code that
 * walks them (a 500), and a 100 KB body can nest 50,000 levels.
 */
const MAX_VALUE_DEPTH = 32;

/** The yoga plugins enforcing config.limits (register them in createApp). */
export function limitPlugins(limits: LimitsConfig): Plugin[] {
  return [useBodyLimit(limits.maxBodyBytes), useOperationLimits(limits), useShortErrorMessages()];
}

export function tooComplex(message: string, variable: string): PgscopeError {
  // Like graphql-js's own validation errors (GraphQL over HTTP): 400 for application/graphql-response+json,
  // 200 for plain application/json, whose clients read errors from the body.
  return new PgscopeError(ErrorCode.QUERY_TOO_COMPLEX, message, { limit: variable, http: { status: 400, spec: true } });
}

function tooDeep(what: string): PgscopeError {
  return new PgscopeError(
    ErrorCode.QUERY_TOO_COMPLEX,
    `${what} are nested more than ${MAX_VALUE_DEPTH} levels deep; pgscope's inputs need 3.`,
    {
      limit: 'the value nesting limit',
      // Refused before the operation is even parsed, whatever the Accept header: no GraphQL request ran.
      http: { status: 400, spec: false },
    },
  );
}

function tooLarge(maxBytes: number): PgscopeError {
  return new PgscopeError(ErrorCode.REQUEST_TOO_LARGE, `The request body is larger than ${maxBytes} bytes (PGSCOPE_MAX_BODY_BYTES).`, {
    maxBytes,
    // Whatever the Accept header: a body that was not read is no GraphQL request. The rest of it
    // is never read, so the connection cannot carry another request.
    http: { status: 413, spec: false, headers: { connection: 'close' } },
  });
}

/**
 * Refuses a body past maxBytes: at once when Content-Length says so, else (chunked, or a lying
 * header) while reading it, before it is parsed. Yoga's own parser then reads the bytes kept.
 */
function useBodyLimit(maxBytes: number): Plugin {
  return {
    onRequestParse({ request, requestParser, setRequestParser, fetchAPI, serverContext }) {
      // A GET carries the operation in its URL; node:http caps headers at 16 KB, app.fetch does not.
      if (request.url.length > maxBytes) throw tooLarge(maxBytes);
      if (request.body === null || requestParser === undefined) return;
      const declared = request.headers.get('content-length');
      if (Number(declared ?? 0) > maxBytes) throw tooLarge(maxBytes);
      // Through node:http, a body with a Content-Length is exactly that long: Node's parser reads
      // that many bytes, and refuses a request that also says Transfer-Encoding, or two lengths.
      // Yoga's parser reads such a body directly (copying it through one more stream cost ~0.15 ms).
      if (declared !== null && (serverContext as { req?: unknown }).req instanceof IncomingMessage) return;
      setRequestParser(async (original) => {
        const body = await readAtMost(original.body!, maxBytes);
        return requestParser(new fetchAPI.Request(original.url, { method: original.method, headers: original.headers, body }));
      });
    },
  };
}

async function readAtMost(stream: ReadableStream<Uint8Array>, maxBytes: number): Promise<Uint8Array<ArrayBuffer>> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      // Stop reading here; the response closes the connection (see tooLarge), which drops the rest.
      reader.releaseLock();
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

/** Value nesting before anything walks the values; token limit while parsing; the others before graphql-js validates. */
function useOperationLimits(limits: LimitsConfig): Plugin {
  // Yoga caches a parsed document by its text, so a client polling the same operation brings the
  // same DocumentNode each time: one found within the limits is not walked again. (Only those: a
  // rejection is built afresh, its errors are the client's to keep.)
  const withinLimits = new WeakMap<GraphQLSchema, WeakSet<DocumentNode>>();
  return {
    onParams({ params }) {
      for (const [name, value] of [
        ['Variable values', params.variables],
        ['Extensions', params.extensions],
      ] as const) {
        if (nestedDeeperThan(value, MAX_VALUE_DEPTH)) throw tooDeep(name);
      }
    },
    onParse({ setParseFn }) {
      setParseFn((source, options) => {
        // Selections nest up to maxDepth, each with its arguments' parentheses, and values up to MAX_VALUE_DEPTH.
        const maxNesting = 2 * limits.maxDepth + MAX_VALUE_DEPTH;
        if (nestedDeeperInSource(source, maxNesting, limits.maxTokens)) {
          throw tooComplex(
            `The operation nests brackets more than ${maxNesting} levels deep; split it or flatten its values.`,
            'PGSCOPE_MAX_DEPTH',
          );
        }
        return parseWithinTokens(source, options, limits.maxTokens);
      });
    },
    onValidate({ params, setResult, validateFn, setValidationFn }) {
      // Suggestions ("Did you mean ...") repeat names; GraphiQL completes from the schema anyway.
      setValidationFn((schema, document, rules, options, typeInfo) =>
        validateFn(schema, document, rules, { ...options, hideSuggestions: true }, typeInfo),
      );
      let checked = withinLimits.get(params.schema);
      if (checked?.has(params.documentAST)) return;
      const errors = operationLimitErrors(params.schema, params.documentAST, limits);
      // Past a limit, graphql-js's validation is skipped: that is where the time would go.
      if (errors.length > 0) return setResult(errors);
      if (!checked) withinLimits.set(params.schema, (checked = new WeakSet()));
      checked.add(params.documentAST);
    },
  };
}

/** Walks arrays and objects with a list of its own, not recursion: the depth is what is in question. */
function nestedDeeperThan(value: unknown, maxDepth: number): boolean {
  const pending: Array<{ value: unknown; depth: number }> = [{ value, depth: 0 }];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    if (next.value === null || typeof next.value !== 'object') continue;
    if (next.depth >= maxDepth) return true;
    for (const child of Object.values(next.value)) pending.push({ value: child, depth: next.depth + 1 });
  }
  return false;
}

/**
 * graphql-js parses and coerces nested lists and objects by recursion: past PGSCOPE_MAX_TOKENS'
 * default they cannot nest deep enough to matter, but with it raised a list literal 3,000 levels
 * deep overflowed the stack (a 500). Counted here with graphql-js's own lexer, before parsing;
 * a syntax error or too many tokens is left to the parser to report.
 */
function nestedDeeperInSource(source: Parameters<typeof parse>[0], maxNesting: number, maxTokens: number): boolean {
  const lexer = new Lexer(typeof source === 'string' ? new Source(source) : source);
  let depth = 0;
  try {
    for (let token = lexer.advance(), count = 1; token.kind !== TokenKind.EOF && count <= maxTokens; token = lexer.advance(), count += 1) {
      if (token.kind === TokenKind.BRACE_L || token.kind === TokenKind.BRACKET_L || token.kind === TokenKind.PAREN_L) depth += 1;
      else if (token.kind === TokenKind.BRACE_R || token.kind === TokenKind.BRACKET_R || token.kind === TokenKind.PAREN_R) depth -= 1;
      if (depth > maxNesting) return true;
    }
  } catch {
    return false;
  }
  return false;
}

function parseWithinTokens(source: Parameters<typeof parse>[0], options: Parameters<typeof parse>[1], maxTokens: number): DocumentNode {
  try {
    return parse(source, { ...options, maxTokens });
  } catch (error) {
    if (error instanceof GraphQLError && /contains more th\w+ \d+ tokens/.test(error.message)) {
      throw tooComplex(
        `The operation has more than ${maxTokens} tokens (PGSCOPE_MAX_TOKENS); split it into smaller operations.`,
        'PGSCOPE_MAX_TOKENS',
      );
    }
    throw error;
  }
}

/** Errors for every limit the document's operations exceed (empty when within all of them). */
export function operationLimitErrors(schema: GraphQLSchema, document: DocumentNode, limits: LimitsConfig): readonly GraphQLError[] {
  const rules: ValidationRule[] = [
    // A fragment spread nests nothing in the response: count the fields it brings, not a level.
    maxDepthRule({ n: limits.maxDepth, flattenFragments: true, propagateOnRejection: false, onReject: [report('PGSCOPE_MAX_DEPTH')] }),
    maxAliasesRule({ n: limits.maxAliases, propagateOnRejection: false, onReject: [report('PGSCOPE_MAX_ALIASES')] }),
    costRule(limits.maxCost),
    maxDirectivesRule({ n: MAX_DIRECTIVES, propagateOnRejection: false, onReject: [report('the directive limit')] }),
    expensiveFieldsRule(limits.maxExpensiveFields),
  ];
  return validate(schema, document, rules);
}

/** graphql-armor's rejection, reworded with the setting that raises the limit and a typed code. */
function report(variable: string) {
  return (context: ValidationContext | null, error: GraphQLError) => {
    const found = error.message.replace(/^Syntax Error: /, '');
    context?.reportError(tooComplex(`${found} The limit is set by ${variable}; split the operation into smaller ones.`, variable));
  };
}

/**
 * graphql-armor's cost model (a leaf 1, an object 2, plus 1.5 x its selections' cost) without its
 * multiplication by `first`: pgscope's lists are bounded by their own arguments (tables' first up
 * to 5000, answered BAD_USER_INPUT past it) and batched, so rows do not multiply statements.
 * What it catches is fragment fan-out (a fragment spreading another twice, ten levels down, is
 * 1,024 copies of the last one) and wide, deep selections that the token limit lets through.
 * Fragments are flattened into the selection that spreads them, and costed once per name.
 */
function costRule(maxCost: number): ValidationRule {
  return (context) => {
    const perFragment = new Map<string, number>();
    const fragmentCost = (name: string): number => {
      const known = perFragment.get(name);
      if (known !== undefined) return known;
      perFragment.set(name, 0); // a fragment cycle (refused by validation later) costs nothing more
      const fragment = context.getFragment(name);
      const cost = fragment ? selectionsCost(fragment.selectionSet) : 0;
      perFragment.set(name, cost);
      return cost;
    };
    const selectionsCost = (selectionSet: SelectionSetNode): number => {
      let cost = 0;
      for (const selection of selectionSet.selections) {
        if (selection.kind === Kind.FRAGMENT_SPREAD) cost += fragmentCost(selection.name.value);
        else if (selection.kind === Kind.INLINE_FRAGMENT) cost += selectionsCost(selection.selectionSet);
        else if (selection.name.value === '__schema')
          continue; // introspection: GraphiQL's is deep by nature
        else cost += selection.selectionSet ? 2 + 1.5 * selectionsCost(selection.selectionSet) : 1;
      }
      return cost;
    };
    return {
      OperationDefinition(operation) {
        const cost = selectionsCost(operation.selectionSet);
        if (cost > maxCost) {
          const found = cost > 1e9 ? 'more than a billion' : String(Math.round(cost));
          context.reportError(
            tooComplex(
              `The operation's estimated cost is ${found}; the limit is ${maxCost} (PGSCOPE_MAX_COST). Select fewer or less nested fields.`,
              'PGSCOPE_MAX_COST',
            ),
          );
        }
      },
    };
  };
}

/** Counts EXPENSIVE_FIELDS in each operation, through fragments (a fragment spread twice counts twice). */
function expensiveFieldsRule(max: number): ValidationRule {
  return (context) => {
    const schema = context.getSchema();
    const perFragment = new Map<string, number>();
    const fragmentCount = (name: string): number => {
      const known = perFragment.get(name);
      if (known !== undefined) return known;
      perFragment.set(name, 0); // a fragment cycle (refused by validation later) counts once
      const fragment = context.getFragment(name);
      const count = fragment ? countIn(fragment.selectionSet, schema.getType(fragment.typeCondition.name.value)) : 0;
      perFragment.set(name, count);
      return count;
    };
    const countIn = (selectionSet: SelectionSetNode, parent: GraphQLNamedType | null | undefined): number => {
      let count = 0;
      for (const selection of selectionSet.selections) {
        if (selection.kind === Kind.FRAGMENT_SPREAD) {
          count += fragmentCount(selection.name.value);
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          const type = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parent;
          count += countIn(selection.selectionSet, type);
        } else if (parent && isObjectType(parent)) {
          if (EXPENSIVE_FIELDS.has(`${parent.name}.${selection.name.value}`)) count += 1;
          const field = parent.getFields()[selection.name.value];
          if (field && selection.selectionSet) count += countIn(selection.selectionSet, getNamedType(field.type));
        }
      }
      return count;
    };
    return {
      OperationDefinition(operation) {
        const count = countIn(operation.selectionSet, schema.getRootType(operation.operation));
        if (count > max) {
          context.reportError(
            tooComplex(
              `The operation asks for ${count} expensive fields (explain, indexRecommendations, indexAdvisorReport); the limit is ${max} (PGSCOPE_MAX_EXPENSIVE_FIELDS). ` +
                'Send them in separate requests.',
              'PGSCOPE_MAX_EXPENSIVE_FIELDS',
            ),
          );
        }
      },
    };
  };
}

const LONGEST_QUOTED = 80;
const LONGEST_MESSAGE = 1_000;

/**
 * Error messages quote what the client sent (a field name, a token, a variable's value): a
 * 50 KB name would come back as large as it went, twice for a variable. In a message longer
 * than LONGEST_MESSAGE, quotes are cut to their start and length.
 */
function useShortErrorMessages(): Plugin {
  return {
    onResultProcess({ result }) {
      const results = Array.isArray(result) ? result : [result];
      for (const one of results) {
        if (one && typeof one === 'object' && 'errors' in one && Array.isArray(one.errors)) {
          for (const error of one.errors as Array<{ message: string }>) error.message = shortMessage(error.message);
        }
      }
    },
  };
}

export function shortMessage(message: string): string {
  // pgscope's own messages quote several names in one sentence: leave ordinary lengths alone.
  if (message.length <= LONGEST_MESSAGE) return message;
  const cut = message.replace(
    /"((?:[^"\\]|\\.){81,})"/g,
    (_, quoted: string) => `"${quoted.slice(0, LONGEST_QUOTED)}..." (${quoted.length} characters)`,
  );
  return cut.length > LONGEST_MESSAGE ? `${cut.slice(0, LONGEST_MESSAGE)}...` : cut;
}
