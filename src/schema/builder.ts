// The Pothos builder: plugins and scalar typings only. Types live one per file beside it.
import SchemaBuilder from '@pothos/core';
import DataloaderPlugin from '@pothos/plugin-dataloader';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import type { Context } from '../context.js';
import { adminRefusal } from '../http/auth.js';

export const builder = new SchemaBuilder<{
  Context: Context;
  AuthScopes: { admin: boolean };
  DefaultFieldNullability: false;
  Scalars: {
    /** Counters that can exceed 2^53: serialized as a number when safe, else as a string. */
    BigInt: { Input: bigint; Output: bigint | number };
    DateTime: { Input: Date; Output: Date };
    JSON: { Input: unknown; Output: unknown };
    NonNegativeInt: { Input: number; Output: number };
    PositiveInt: { Input: number; Output: number };
  };
}>({
  // scope-auth first, so no other plugin's wrapper runs before authorization.
  plugins: [ScopeAuthPlugin, RelayPlugin, DataloaderPlugin],
  defaultFieldNullability: false,
  scopeAuth: {
    authScopes: (context) => ({ admin: context.isAdmin }),
    // One rule for every mutation and admin-only field; nothing of theirs runs when it refuses.
    unauthorizedError: (_parent, context) => adminRefusal(context.config.adminToken, context.credential),
  },
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    nodeQueryOptions: false,
    nodesQueryOptions: false,
    pageInfoTypeOptions: { description: 'Where a page of a connection sits in the whole list (relay cursor pagination).' },
    pageInfoFieldOptions: { description: 'Cursors of this page and whether more pages exist.' },
    hasNextPageFieldOptions: { description: 'More items follow: ask again with after: endCursor.' },
    hasPreviousPageFieldOptions: { description: 'Items precede this page (known only when paging with after).' },
    startCursorFieldOptions: { description: 'Cursor of the first item of this page.' },
    endCursorFieldOptions: { description: 'Cursor of the last item of this page: pass it as after for the next page.' },
    edgesFieldOptions: { description: 'The items of this page with their cursors.' },
    cursorFieldOptions: { description: 'Opaque position of this item, for after/before.' },
    nodeFieldOptions: { description: 'The item.' },
    firstArgOptions: { description: 'Number of items to return from the start (after the cursor, when given).' },
    afterArgOptions: { description: 'Return items after this cursor (an endCursor from an earlier page).' },
    lastArgOptions: { description: 'Number of items to return from the end (before the cursor, when given).' },
    beforeArgOptions: { description: 'Return items before this cursor.' },
  },
});
