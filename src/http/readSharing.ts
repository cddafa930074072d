// Decides, when an operation starts, how its reads may be shared (src/db/sharedReads.ts):
// - a query operation joins identical statements in flight (PGSCOPE_READ_COALESCING);
// - it also takes cached answers (PGSCOPE_READ_CACHE_MS) when every root field it selects says
//   `extensions: { readCache: true }`: cumulative statistics, where an answer a second old tells
//   the same story. Live views (activity, locks, index builds, pool status, the change log a client
//   polls for a change's end) and the advisor never say so;
// - a mutation shares nothing, and when it is done every answer in flight or cached is forgotten:
//   what a client reads after its own change was asked of the database after that change.
import { getOperationAST, Kind, type DocumentNode, type FragmentDefinitionNode, type GraphQLSchema, type SelectionSetNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { ReadsConfig } from '../config.js';
import type { Context } from '../context.js';

export function useReadSharing(config: ReadsConfig): Plugin<Context> {
  return {
    onExecute: ({ args }) => {
      const ctx = args.contextValue as Context;
      const operation = getOperationAST(args.document, args.operationName);
      if (operation?.operation === 'mutation') return { onExecuteDone: () => ctx.sharedReads.forget() };
      if (operation?.operation !== 'query') return undefined;
      ctx.reads.share = config.coalescing;
      ctx.reads.cache = config.cacheMs > 0 && everyRootFieldCacheable(args.schema, args.document, operation.selectionSet);
      return undefined;
    },
    // a subscription reads live views every tick: identical ones of several dashboards share a round trip, never the cache
    onSubscribe: ({ args }) => {
      (args.contextValue as Context).reads.share = config.coalescing;
    },
  };
}

/** True when each root field selected (through fragments too, @skip ignored) allows the read cache. */
function everyRootFieldCacheable(schema: GraphQLSchema, document: DocumentNode, selectionSet: SelectionSetNode): boolean {
  const fields = schema.getQueryType()?.getFields() ?? {};
  const fragments = new Map(
    document.definitions
      .filter((definition): definition is FragmentDefinitionNode => definition.kind === Kind.FRAGMENT_DEFINITION)
      .map((fragment) => [fragment.name.value, fragment]),
  );
  // Validation ran before execution: fragments exist and do not cycle.
  const cacheable = (set: SelectionSetNode): boolean =>
    set.selections.every((selection) => {
      if (selection.kind === Kind.FIELD) {
        return selection.name.value === '__typename' || fields[selection.name.value]?.extensions?.readCache === true;
      }
      if (selection.kind === Kind.INLINE_FRAGMENT) return cacheable(selection.selectionSet);
      const fragment = fragments.get(selection.name.value);
      return fragment !== undefined && cacheable(fragment.selectionSet);
    });
  return cacheable(selectionSet);
}
