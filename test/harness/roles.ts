// Login roles for privilege tests (roles are cluster-wide: unique names, dropped after use).
import { randomBytes } from 'node:crypto';
import { queryOnce } from '../../src/db/pool.js';
import { adminUrl } from './database.js';
import { quoteIdent } from '../../src/sql/quote.js';

export interface TestRole {
  name: string;
  /** URL of `database` as this role. */
  url(database: string): string;
  drop(): Promise<void>;
}

/** A login role, member of `grants` (e.g. ['pg_monitor']) and nothing else. */
export async function createRole(label: string, grants: string[] = []): Promise<TestRole> {
  const name = `r_${label}_${randomBytes(3).toString('hex')}`;
  const password = randomBytes(12).toString('hex');
  await queryOnce(adminUrl(), `CREATE ROLE ${quoteIdent(name)} LOGIN PASSWORD '${password}'`);
  for (const grant of grants) await queryOnce(adminUrl(), `GRANT ${quoteIdent(grant)} TO ${quoteIdent(name)}`);
  return {
    name,
    url(database) {
      const url = new URL(adminUrl());
      url.username = name;
      url.password = password;
      url.pathname = `/${database}`;
      return url.toString();
    },
    async drop() {
      await queryOnce(adminUrl(), `DROP ROLE IF EXISTS ${quoteIdent(name)}`);
    },
  };
}
