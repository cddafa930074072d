import fs from 'node:fs';
import { isEnumType, isInputObjectType, isInterfaceType, isNonNullType, isObjectType, isScalarType, parseValue } from 'graphql';
import { describe, expect, it } from 'vitest';
import { schema } from '../../src/schema/index.js';
import { printedSchema } from '../../src/schema/print.js';

describe('schema.graphql', () => {
  it('is the printed schema (run `npm run schema:print` after changing a type)', () => {
    expect(fs.readFileSync(new URL('../../schema.graphql', import.meta.url), 'utf8')).toBe(printedSchema());
  });

  it('describes every type, field, argument and enum value (GraphiQL users read them)', () => {
    const missing: string[] = [];
    for (const type of Object.values(schema.getTypeMap())) {
      if (type.name.startsWith('__')) continue;
      if (!type.description) missing.push(type.name);
      if (isObjectType(type) || isInterfaceType(type) || isInputObjectType(type)) {
        for (const field of Object.values(type.getFields())) {
          if (!field.description) missing.push(`${type.name}.${field.name}`);
          for (const arg of 'args' in field ? field.args : []) {
            if (!arg.description) missing.push(`${type.name}.${field.name}(${arg.name})`);
          }
        }
      }
      if (isEnumType(type)) {
        for (const value of type.getValues()) if (!value.description) missing.push(`${type.name}.${value.name}`);
      }
    }
    expect(missing).toEqual([]);
  });

  // A typed client sees `| null` on each: its description must say when (for Query fields: only on
  // failure, added to each by withNullableQueryFields).
  it('says when each nullable output field is null (its description holds the word null)', () => {
    const silent: string[] = [];
    for (const type of Object.values(schema.getTypeMap())) {
      if (type.name.startsWith('__') || !(isObjectType(type) || isInterfaceType(type))) continue;
      for (const field of Object.values(type.getFields())) {
        if (!isNonNullType(field.type) && !/\bnull\b/i.test(field.description ?? '')) silent.push(`${type.name}.${field.name}`);
      }
    }
    expect(silent).toEqual([]);
  });
});

describe('the BigInt scalar', () => {
  const bigInt = schema.getType('BigInt');
  if (!isScalarType(bigInt)) throw new Error('BigInt is not a scalar');

  it('serializes every value as a string of digits, small ones included (one JSON type for typed clients)', () => {
    expect(bigInt.serialize(0n)).toBe('0');
    expect(bigInt.serialize(42n)).toBe('42');
    expect(bigInt.serialize(42)).toBe('42');
    expect(bigInt.serialize(9007199254740991n)).toBe('9007199254740991');
    expect(bigInt.serialize(9007199254740993n)).toBe('9007199254740993');
    expect(bigInt.serialize(-9223372036854775808n)).toBe('-9223372036854775808');
  });

  it('hands resolvers a bigint whether the client sent a number or a string', () => {
    expect(bigInt.parseValue(17179869184)).toBe(17179869184n);
    expect(bigInt.parseValue('9007199254740993')).toBe(9007199254740993n);
    expect(bigInt.parseLiteral(parseValue('123'), {})).toBe(123n);
    expect(bigInt.parseLiteral(parseValue('"9223372036854775807"'), {})).toBe(9223372036854775807n);
  });

  it('rejects fractions and words', () => {
    expect(() => bigInt.parseValue(1.5)).toThrow('BigInt must be a whole number (or a string of digits), got 1.5.');
    expect(() => bigInt.parseValue('12abc')).toThrow('BigInt must be a whole number (or a string of digits), got "12abc".');
  });
});
