// The Pothos builder: plugins and scalar typings only. Types live one per file beside it.
import SchemaBuilder from '@pothos/core';
import DataloaderPlugin from '@pothos/plugin-dataloader';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import type { Context } from '../context.js';
import type { Credential } from '../config.js';
import { ErrorCode, PgscopeError } from '../errors.js';

export const builder = new SchemaBuilder<{
  Context: Context;
  AuthScopes: { admin: boolean };
  DefaultFieldNullability: false;
  Scalars: {
    /** Counters that can exceed 2^53: always serialized as a string of digits (scalars.ts says why). */
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
    startCursorFieldOptions: { description: 'Cursor of the first item of this page; null when the page is empty.' },
    endCursorFieldOptions: {
      description: 'Cursor of the last item of this page: pass it as after for the next page. Null when the page is empty.',
    },
    edgesFieldOptions: { description: 'The items of this page with their cursors.' },
    cursorFieldOptions: { description: 'Opaque position of this item, for after/before.' },
    nodeFieldOptions: { description: 'The item.' },
    firstArgOptions: { description: 'Number of items to return from the start (after the cursor, when given).' },
    afterArgOptions: { description: 'Return items after this cursor (an endCursor from an earlier page).' },
    lastArgOptions: { description: 'Number of items to return from the end (before the cursor, when given).' },
    beforeArgOptions: { description: 'Return items before this cursor.' },
  },
});

const SEND_ADMIN_TOKEN = 'send the header "Authorization: Bearer <PGSCOPE_ADMIN_TOKEN>"';

/**
 * Why a request may not run a mutation or an admin-only field. No admin token configured: the
 * feature is switched off (FORBIDDEN, with how to switch it on). Otherwise the request did not
 * prove it is the admin (UNAUTHENTICATED): no token, a wrong one, or the read token, which
 * authenticates reads only.
 */
export function adminRefusal(adminToken: string | undefined, credential: Credential): PgscopeError {
  if (!adminToken) {
    return new PgscopeError(
      ErrorCode.FORBIDDEN,
      'Mutations and admin-only fields are disabled: no admin token is configured. Set PGSCOPE_ADMIN_TOKEN ' +
        `(16+ characters, e.g. from openssl rand -hex 24), restart pgscope, and ${SEND_ADMIN_TOKEN}.`,
      { reason: 'MUTATIONS_DISABLED' },
    );
  }
  const why = {
    admin: 'This needs the admin token',
    none: 'This needs the admin token',
    unknown: 'The token is not the admin token',
    read: 'The read token only reads; this needs the admin token',
  }[credential];
  return new PgscopeError(ErrorCode.UNAUTHENTICATED, `${why}: ${SEND_ADMIN_TOKEN}.`);
}
