// Scalars chosen on purpose: BigInt for counters and byte sizes (pg_stat_statements counters
// outgrow 2^53 on busy servers; graphql-scalars' BigInt never rounds), DateTime as ISO 8601.
import { BigIntResolver, DateTimeResolver, JSONResolver, NonNegativeIntResolver, PositiveIntResolver } from 'graphql-scalars';
import { builder } from './builder.js';

builder.addScalarType('BigInt', BigIntResolver, {
  description:
    'A whole number that may exceed 2^53 (counters, bytes): a JSON number when it is exactly representable, otherwise a string of digits.',
});
builder.addScalarType('DateTime', DateTimeResolver);
builder.addScalarType('JSON', JSONResolver);
builder.addScalarType('NonNegativeInt', NonNegativeIntResolver);
builder.addScalarType('PositiveInt', PositiveIntResolver);
