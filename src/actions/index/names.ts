// Index names: a given one is checked (PostgreSQL would silently cut a long name to 63 bytes,
// and a cut name could collide), a derived one follows PostgreSQL's own rule
// (ChooseIndexName/makeObjectName in src/backend/commands/indexcmds.c and catalog/namespace.c):
// {table}_{col1}_{col2}_idx, the table and column parts shortened alternately, longest first, to
// fit 63 bytes, then idx1, idx2... until no relation of the schema has the name.
import { badInput } from '../../errors.js';
import type { Queryable } from '../../db/pool.js';
import { takenNames } from './catalog.js';

/** NAMEDATALEN - 1: the longest identifier PostgreSQL keeps, in bytes. */
export const MAX_NAME_BYTES = 63;

/** How many numbered variants (idx1, idx2...) are tried in one catalog look-up. */
const VARIANTS = 100;

/** BAD_USER_INPUT unless `name` can be used as it is, quoted. */
export function checkGivenName(name: string, what: string): void {
  const bytes = Buffer.byteLength(name, 'utf8');
  if (name === '') throw badInput(`The ${what} is empty.`);
  if (bytes > MAX_NAME_BYTES) {
    const limit = `PostgreSQL keeps at most ${MAX_NAME_BYTES} bytes of a name (it would cut it silently)`;
    throw badInput(`The ${what} is ${bytes} bytes long; ${limit}. Choose a shorter one.`, { bytes });
  }
  if (/\p{Cc}/u.test(name)) throw badInput(`The ${what} contains a control character.`);
  // legal once quoted, but scripts and tools that splice names into SQL trip over them
  if (/["'`;\\]/.test(name))
    throw badInput(`The ${what} contains a quote, backslash or semicolon; choose a plain name (letters, digits, _).`);
}

/** The names PostgreSQL gives the key and INCLUDE columns of an index: numbered when they repeat. */
export function indexColumnNames(names: readonly string[]): string[] {
  const chosen: string[] = [];
  for (const original of names) {
    let candidate = original;
    for (let i = 1; chosen.includes(candidate); i += 1) {
      const suffix = String(i);
      candidate = clipBytes(original, MAX_NAME_BYTES - suffix.length) + suffix;
    }
    chosen.push(candidate);
  }
  return chosen;
}

/** {table}_{columns}_{label} within 63 bytes, as makeObjectName builds it. */
export function makeObjectName(table: string, columns: readonly string[], label: string): string {
  // ChooseIndexNameAddition joins the column names with "_" and stops once past NAMEDATALEN
  let addition = '';
  for (const column of columns) {
    addition += (addition === '' ? '' : '_') + column;
    if (Buffer.byteLength(addition) >= MAX_NAME_BYTES + 1) break;
  }
  addition = clipBytes(addition, MAX_NAME_BYTES);
  const available = MAX_NAME_BYTES - (label.length + 1) - (addition === '' ? 0 : 1);
  let tableBytes = Buffer.byteLength(table);
  let additionBytes = Buffer.byteLength(addition);
  while (tableBytes + additionBytes > available) {
    if (tableBytes > additionBytes) tableBytes -= 1;
    else additionBytes -= 1;
  }
  const parts = [clipBytes(table, tableBytes), ...(addition === '' ? [] : [clipBytes(addition, additionBytes)]), label];
  return parts.join('_');
}

/** The longest prefix of `text` within `bytes` UTF-8 bytes that does not cut a character. */
export function clipBytes(text: string, bytes: number): string {
  let out = '';
  let used = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char);
    if (used + size > bytes) break;
    out += char;
    used += size;
  }
  return out;
}

/**
 * The derived index name for `table`, free in its schema and not among `reserved` (names this
 * plan already gives to other indexes of the same schema).
 */
export async function chooseIndexName(
  db: Queryable,
  schemaOid: string,
  table: string,
  columns: readonly string[],
  reserved: ReadonlySet<string>,
): Promise<string> {
  const candidates = Array.from({ length: VARIANTS }, (_, pass) => makeObjectName(table, columns, pass === 0 ? 'idx' : `idx${pass}`));
  const taken = new Set((await takenNames(db, schemaOid, candidates)).map((row) => row.name));
  const free = candidates.find((candidate) => !taken.has(candidate) && !reserved.has(candidate));
  if (!free) throw badInput(`No free index name was found for table ${table} after ${VARIANTS} tries; give one.`);
  return free;
}

/** " (it contains the non-ASCII character U+0435 at position 3: a look-alike?)" or "". */
export function lookAlikeHint(name: string): string {
  const chars = [...name];
  const index = chars.findIndex((char) => char.codePointAt(0)! > 0x7e);
  if (index < 0) return '';
  const code = chars[index]!.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
  return ` (it contains the non-ASCII character U+${code} at position ${index + 1}: a look-alike of an ASCII letter?)`;
}

/** A name as SQL would need it written: bare when it is a plain lowercase identifier, else quoted. */
export function displayName(...parts: string[]): string {
  return parts.map((part) => (/^[a-z_][a-z0-9_]*$/.test(part) ? part : `"${part.replace(/"/g, '""')}"`)).join('.');
}
