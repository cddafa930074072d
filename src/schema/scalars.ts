// Scalars chosen on purpose: BigInt for counters and byte sizes (pg_stat_statements counters
// outgrow 2^53 on busy servers), DateTime as ISO 8601, both from graphql-scalars.
import { GraphQLError, Kind, type ValueNode } from 'graphql';
import { BigIntResolver, DateTimeResolver, JSONResolver, NonNegativeIntResolver, PositiveIntResolver } from 'graphql-scalars';
import { builder } from './builder.js';

const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

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
// and specification. Output: a JSON number when exact, else a string of digits. Input: always a bigint.
builder.scalarType('BigInt', {
  description:
    'A whole number that may exceed 2^53 (counters, bytes): a JSON number when it is exactly representable, otherwise a string of digits.',
  specifiedByURL: BigIntResolver.specifiedByURL,
  serialize: (value) => {
    const big = typeof value === 'bigint' ? value : BigInt(value as number | string);
    return big >= MIN_SAFE && big <= MAX_SAFE ? Number(big) : big.toString();
  },
  parseValue: toBigInt,
  parseLiteral: (node: ValueNode) => toBigInt(node.kind === Kind.INT || node.kind === Kind.STRING ? node.value : undefined),
});
builder.addScalarType('DateTime', DateTimeResolver);
builder.addScalarType('JSON', JSONResolver);
builder.addScalarType('NonNegativeInt', NonNegativeIntResolver);
builder.addScalarType('PositiveInt', PositiveIntResolver);
