// Which database an operation reads and changes, when pgscope serves several (PGSCOPE_TARGETS):
// the operation's @target(name:) directive, else the X-Pgscope-Target header, else the default
// target (DATABASE_URL, or the embedded demo). Chosen once per operation, before any resolver,
// so that every field of it (DataLoaders, mutations, the change log) uses that one pool.
import { getDirectiveValues, getOperationAST, type DocumentNode, type GraphQLSchema } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { DEFAULT_TARGET } from '../config.js';
import { bindTarget, type Context, type TargetServices } from '../context.js';
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
