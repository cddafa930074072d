// Which database an operation reads and changes, when pgscope serves several (PGSCOPE_TARGETS):
// the operation's @target(name:) directive, else the X-Pgscope-Target header, else the default
// target (DATABASE_URL, or the embedded demo). Chosen once per operation, before any resolver,
// so that every field of it (DataLoaders, mutations, the change log) uses that one pool.
import { getDirectiveValues, getOperationAST, type DocumentNode, type GraphQLSchema } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { DEFAULT_TARGET } from '../config.js';
import { bindTarget, type Context, type TargetServices } from '../context.js';
import type { Readiness } from '../db/pool.js';
import { ErrorCode, PgscopeError } from '../errors.js';
import { TARGET_DIRECTIVE } from '../schema/target.js';

export const TARGET_HEADER = 'x-pgscope-target';

interface OperationArgs {
  schema: GraphQLSchema;
  document: DocumentNode;
  operationName?: string | null;
  variableValues?: Record<string, unknown> | null;
  contextValue: unknown;
}

export function useTargets(targets: ReadonlyMap<string, TargetServices>): Plugin<Context> {
  /** Binds the context to the operation's target; the error to answer with when it names none pgscope serves. */
  const choose = (args: OperationArgs): PgscopeError | undefined => {
    const ctx = args.contextValue as Context & { request: Request };
    const operation = getOperationAST(args.document, args.operationName);
    const directive = args.schema.getDirective(TARGET_DIRECTIVE);
    const named =
      operation && directive
        ? (getDirectiveValues(directive, operation, args.variableValues ?? {})?.name as string | undefined)
        : undefined;
    const header = ctx.request.headers.get(TARGET_HEADER)?.trim() || undefined;
    if (named !== undefined && header !== undefined && named !== header) {
      return new PgscopeError(
        ErrorCode.BAD_USER_INPUT,
        `The operation names target "${named}" (@target) and the ${TARGET_HEADER} header names another: send one of them.`,
        { argument: 'target' },
      );
    }
    const name = named ?? header ?? DEFAULT_TARGET;
    const target = targets.get(name);
    if (!target) {
      return new PgscopeError(
        ErrorCode.NOT_FOUND,
        `No target named ${JSON.stringify(name.slice(0, 64))}: this pgscope serves ${[...targets.keys()].join(', ')}.`,
        {
          argument: 'target',
        },
      );
    }
    if (target.name !== ctx.target) bindTarget(ctx, target);
    return undefined;
  };
  return {
    onExecute: ({ args, setResultAndStopExecution }) => {
      const refusal = choose(args);
      if (refusal) setResultAndStopExecution({ errors: [refusal] });
    },
    onSubscribe: ({ args, setResultAndStopExecution }) => {
      const refusal = choose(args);
      if (refusal) setResultAndStopExecution({ errors: [refusal] });
    },
  };
}

/**
 * GET /ready: 200 when every target answers, else 503, with targetsReadiness as JSON. Yoga's
 * useReadinessCheck ran a URLPattern on every request and took any URL ending in /ready (a query
 * string's too) for this one; here it is the exact path, and a failure answers 503 without its
 * message (a connection error's could name the server).
 */
export function useReadiness(targets: ReadonlyMap<string, TargetServices>): Plugin<Context> {
  return {
    onRequest({ url, endResponse }) {
      if (url.pathname !== '/ready') return;
      return targetsReadiness(targets).then(
        (readiness) => endResponse(Response.json(readiness, { status: readiness.ready ? 200 : 503 })),
        () => endResponse(Response.json({ ready: false }, { status: 503 })),
      );
    },
  };
}

/** /ready: one target's readiness as it is; with several, ready when every one is, each by name. */
export async function targetsReadiness(
  targets: ReadonlyMap<string, TargetServices>,
): Promise<Readiness | { ready: boolean; targets: Record<string, Readiness> }> {
  const each = await Promise.all([...targets].map(async ([name, target]) => [name, await target.database.readiness()] as const));
  if (each.length === 1) return each[0]![1];
  return { ready: each.every(([, readiness]) => readiness.ready), targets: Object.fromEntries(each) };
}
