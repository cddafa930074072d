// Scalars chosen on purpose: BigInt for counters and byte sizes (pg_stat_statements counters
// outgrow 2^53 on busy servers; graphql-scalars' BigInt never rounds), DateTime as ISO 8601.
import { BigIntResolver, DateTimeResolver, JSONResolver, NonNegativeIntResolver, PositiveIntResolver } from 'graphql-scalars';
import { builder } from './builder.js';

builder.addScalarType('BigInt', BigIntResolver);
builder.addScalarType('DateTime', DateTimeResolver);
builder.addScalarType('JSON', JSONResolver);
builder.addScalarType('NonNegativeInt', NonNegativeIntResolver);
builder.addScalarType('PositiveInt', PositiveIntResolver);
