// The Pothos builder: plugins and scalar typings only. Types live one per file beside it.
import SchemaBuilder from '@pothos/core';
import DataloaderPlugin from '@pothos/plugin-dataloader';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import type { Context } from '../context.js';
import { ErrorCode, PgscopeError } from '../errors.js';

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
    unauthorizedError: () =>
      new PgscopeError(ErrorCode.UNAUTHENTICATED, 'This needs the admin token: send the header "Authorization: Bearer <PGSCOPE_ADMIN_TOKEN>".'),
  },
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    nodeQueryOptions: false,
    nodesQueryOptions: false,
  },
});
