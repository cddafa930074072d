// Scalars chosen on purpose: BigInt for counters and byte sizes (pg_stat_statements counters
// outgrow 2^53 on busy servers), DateTime as ISO 8601, both from graphql-scalars. Each has one JSON
// type, so that a generated client has one TypeScript type per scalar (README "Typed clients").
import { GraphQLError, Kind, type ValueNode } from 'graphql';
import { BigIntResolver, DateTimeResolver, JSONResolver, NonNegativeIntResolver, PositiveIntResolver } from 'graphql-scalars';
import { builder } from './builder.js';

function toBigInt(value: unknown): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  if (typeof value === 'string' && /^-?\d+$/.test(value)) return BigInt(value);
  throw new GraphQLError(`BigInt must be a whole number (or a string of digits), got ${JSON.stringify(value)}.`, {
    extensions: { code: 'BAD_USER_INPUT' },
  });
}

// graphql-scalars' BigInt output depends on whether some code patched BigInt.prototype.toJSON
// (and it warns on the console when none did): pgscope decides once instead, with the same name
// and specification. Output: always a JSON string of base-10 digits. A number when small and a
// string when large was exact too, but typed clients then got `number | string`, which cannot be
// added under tsc --strict, and code tested on small values broke on the first big one. A string
// is exact in every JSON parser (JavaScript's JSON.parse rounds numbers past 2^53), as Shopify's
// UnsignedInt64 and GitHub's BigInt are. Input: a number or a string of digits, always a bigint.
builder.scalarType('BigInt', {
  description:
    'A whole number that may exceed 2^53 (counters, bytes), always sent as a JSON string of base-10 digits, e.g. "9007199254740993", ' +
    'so that no JSON parser rounds it. To add sizes, convert first: BigInt(a) + BigInt(b) in JavaScript (exact), or Number(a) when ' +
    'an approximation past 2^53 will do (charts). Arguments accept a number or a string of digits.',
  specifiedByURL: BigIntResolver.specifiedByURL,
  serialize: (value) => (typeof value === 'bigint' ? value : BigInt(value as number | string)).toString(),
  parseValue: toBigInt,
  parseLiteral: (node: ValueNode) => toBigInt(node.kind === Kind.INT || node.kind === Kind.STRING ? node.value : undefined),
});
builder.addScalarType('DateTime', DateTimeResolver);
builder.addScalarType('JSON', JSONResolver);
builder.addScalarType('NonNegativeInt', NonNegativeIntResolver);
builder.addScalarType('PositiveInt', PositiveIntResolver);
