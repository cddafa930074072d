// GraphQL Code Generator config for the sample typed client: `npm run codegen:example` (from the
// repository root) writes generated.ts from schema.graphql and operations.graphql. Copy it into
// your project and point schema at your pgscope (a URL works too) and documents at your operations.
import type { CodegenConfig } from '@graphql-codegen/cli';

/**
 * One TypeScript type per pgscope scalar, the JSON type pgscope sends (README "Typed clients").
 * strictScalars makes codegen fail on a scalar missing here instead of typing it `any`.
 */
export const PGSCOPE_SCALARS = {
  // a string of base-10 digits, never a JSON number: BigInt(x) for exact sums, Number(x) for charts
  BigInt: 'string',
  // ISO 8601 with a time zone, e.g. "2026-12-07T10:00:00.000Z": new Date(x)
  DateTime: 'string',
  // any JSON value (EXPLAIN plans, change outcomes): narrow it before use
  JSON: 'unknown',
  NonNegativeInt: 'number',
  PositiveInt: 'number',
} as const;

const config: CodegenConfig = {
  schema: 'schema.graphql',
  documents: 'examples/typed-client/operations.graphql',
  generates: {
    'examples/typed-client/generated.ts': {
      plugins: ['typescript-operations'],
      config: {
        strictScalars: true,
        scalars: PGSCOPE_SCALARS,
        // string unions, no runtime enum objects: the client stays types-only
        enumType: 'string-literal',
        useTypeImports: true,
      },
    },
  },
};

export default config;
