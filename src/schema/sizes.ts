// The sizes of tables and their indexes, measured at most once per request and only when a field
// asks for one: measuring every relation on disk is most of the time of a large `tables` page,
// while its statistics take a small part of it. One DataLoader per request, keyed by table OID:
// Table's size fields and IndexUsage.sizeBytes (for indexes listed under a table) share it, and
// tables(orderBy: *_SIZE) primes it with the sizes its sort measured.
import DataLoader from 'dataloader';
import type { Context } from '../context.js';
import { loadTableSizes, type TableSizes } from '../db/tables.js';
import { notFound } from '../errors.js';

const loaders = new WeakMap<Context, DataLoader<number, TableSizes>>();

/** The request's size loader (created on first use: a request that asks no size never measures one). */
export function tableSizes(ctx: Context): DataLoader<number, TableSizes> {
  const existing = loaders.get(ctx);
  if (existing) return existing;
  const loader = new DataLoader<number, TableSizes>(async (oids) => {
    const rows = await loadTableSizes(ctx.db, oids);
    const byOid = new Map<number, TableSizes>(rows.map((row) => [row.oid, row]));
    return oids.map((oid) => byOid.get(oid) ?? notFound('The table no longer exists (it was dropped while the request ran).'));
  });
  loaders.set(ctx, loader);
  return loader;
}

/** The size of one index of a table, from the table's sizes (an index created since the listing has none). */
export async function indexSize(ctx: Context, tableOid: number, indexOid: number): Promise<bigint> {
  const size = (await tableSizes(ctx).load(tableOid)).index_sizes[String(indexOid)];
  if (size === undefined) throw notFound('The index no longer exists (it was dropped while the request ran).');
  return BigInt(size);
}
