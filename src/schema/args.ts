// Argument checks shared by resolvers: out-of-range input is a BAD_USER_INPUT error, never a clamp.
import { badInput } from '../errors.js';

export function intInRange(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw badInput(`${name} must be a whole number from ${min} to ${max}, got ${value}.`, { argument: name });
  }
  return value;
}

export function nonNegative(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) {
    throw badInput(`${name} must be zero or more, got ${value}.`, { argument: name });
  }
  return value;
}
