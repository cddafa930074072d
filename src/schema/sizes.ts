// The sizes of tables and their indexes, measured at most once per request and only when a field
// asks for one: measuring every relation on disk is most of the time of a large `tables` page,
// while its statistics take a small part of it. One loader per request, keyed by table OID:
// Table's size fields and IndexUsage.sizeBytes (for indexes listed under a table) share it;
// tables(orderBy: *_SIZE) primes it with the sizes its sort measured, and tables preloads it
// beside its statistics when the page asks for a size.
import { createContextCache } from '@pothos/core';
import type { Context } from '../context.js';
import { loadTableSizes, type TableSizes } from '../db/tables.js';
import { notFound } from '../errors.js';
import { mapMaybe, RequestLoader } from './requestLoader.js';

/** The request's size loader (created on first use: a request that asks no size never measures one). */
export const tableSizes = createContextCache(
  (ctx: Context) =>
    new RequestLoader<number, TableSizes>(async (oids) => {
      const rows = await loadTableSizes(ctx.db, oids);
      const byOid = new Map<number, TableSizes>(rows.map((row) => [row.oid, row]));
      return oids.map((oid) => byOid.get(oid) ?? notFound('The table no longer exists (it was dropped while the request ran).'));
    }),
);

/** One size of a table. */
export function tableSize(ctx: Context, tableOid: number, pick: (sizes: TableSizes) => bigint): bigint | Promise<bigint> {
  return mapMaybe(tableSizes(ctx).get(tableOid), pick);
}

/** The size of one index of a table, from the table's sizes (an index created since the listing has none). */
export function indexSize(ctx: Context, tableOid: number, indexOid: number): bigint | Promise<bigint> {
  return mapMaybe(tableSizes(ctx).get(tableOid), (sizes) => {
    const size = sizes.index_sizes[String(indexOid)];
    if (size === undefined) throw notFound('The index no longer exists (it was dropped while the request ran).');
    return BigInt(size);
  });
}
