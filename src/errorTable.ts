// The README's table of error codes, written from the one list in errors.ts (npm run docs:errors).
import { ERROR_CODES, GRAPHQL_CODES } from './errors.js';

export const TABLE_START = '<!-- error codes: written by npm run docs:errors from src/errors.ts -->';
export const TABLE_END = '<!-- end of error codes -->';

/** The markdown table, pgscope's codes then GraphQL's, between its two markers. */
export function errorCodeTable(): string {
  const rows = Object.entries({ ...ERROR_CODES, ...GRAPHQL_CODES }).map(([code, meaning]) => `| \`${code}\` | ${meaning} |`);
  return [TABLE_START, '| code | meaning |', '| --- | --- |', ...rows, TABLE_END].join('\n');
}

/** `readme` with its table (markers included) replaced by the current one; throws without the markers. */
export function withErrorCodeTable(readme: string): string {
  const start = readme.indexOf(TABLE_START);
  const end = readme.indexOf(TABLE_END);
  if (start < 0 || end < start) throw new Error(`README.md has no "${TABLE_START}" ... "${TABLE_END}" markers`);
  return readme.slice(0, start) + errorCodeTable() + readme.slice(end + TABLE_END.length);
}
