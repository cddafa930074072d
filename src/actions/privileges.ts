// Index and partition DDL, ANALYZE and DETACH need the table's owner (or a member of the owning
// role). A change whose statements the server would refuse halfway is refused while planning, with
// the GRANT that allows it, so that a dry run already tells. ANALYZE needs it most: on a table it
// may not analyze, PostgreSQL only warns and skips, and the change would look done.
import { relationsByName } from '../db/fragments.js';
import type { Queryable } from '../db/pool.js';
import { ErrorCode, PgscopeError } from '../errors.js';
import { quoteIdent } from '../sql/quote.js';

interface OwnerRow {
  schema: string;
  name: string;
  owner: string;
  role: string;
  owner_is_superuser: boolean;
  allowed: boolean;
}

export interface RelationName {
  schema: string;
  name: string;
}

/**
 * Refuses with INSUFFICIENT_PRIVILEGE unless pgscope's role owns every relation (directly or as a
 * member of the owning role); `maintainSuffices`: the MAINTAIN privilege (PostgreSQL 17+) or the
 * database's ownership also allow it, as for ANALYZE.
 */
export async function requireOwnership(
  db: Queryable,
  relations: readonly RelationName[],
  action: string,
  maintainSuffices = false,
): Promise<void> {
  if (relations.length === 0) return;
  const rows = await db.query<OwnerRow>(
    /* SQL */ `
    SELECT
      n.nspname AS schema,
      t.relname AS name,
      pg_get_userbyid(t.relowner) AS owner,
      current_user AS role,
      (SELECT a.rolsuper FROM pg_roles a WHERE a.oid = t.relowner) AS owner_is_superuser,
      pg_has_role(current_user, t.relowner, 'USAGE')
        OR ($3 AND (
          pg_has_role(current_user, (SELECT d.datdba FROM pg_database d WHERE d.datname = current_database()), 'USAGE')
          OR (current_setting('server_version_num')::int >= 170000 AND has_table_privilege(t.oid, 'MAINTAIN'))
        )) AS allowed
    FROM ${relationsByName('$1', '$2')}`,
    [relations.map((r) => r.schema), relations.map((r) => r.name), maintainSuffices],
  );
  const refused = rows.filter((row) => !row.allowed);
  if (refused.length === 0) return;
  const owners = [...new Set(refused.map((row) => row.owner))];
  const role = refused[0]!.role;
  const names = refused.slice(0, 5).map((row) => `${row.schema}.${row.name}`);
  const more = refused.length > names.length ? ` and ${refused.length - names.length} more` : '';
  // membership in a superuser's role would hand pgscope everything that superuser owns
  const remedy = refused.some((row) => row.owner_is_superuser)
    ? 'They belong to a superuser: give them to an application role (ALTER TABLE ... OWNER TO app_owner), then GRANT app_owner TO ' +
      `${quoteIdent(role)};`
    : `To allow it, make pgscope a member of the owning role: ${owners.map((owner) => `GRANT ${quoteIdent(owner)} TO ${quoteIdent(role)};`).join(' ')}`;
  throw new PgscopeError(
    ErrorCode.INSUFFICIENT_PRIVILEGE,
    `pgscope's role "${role}" may not ${action}: only the owner of ${names.join(', ')}${more} (${owners.join(', ')}) may. ${remedy}`,
    { owners },
  );
}

/** CREATE INDEX and CREATE TABLE also need CREATE on the schema the new object goes into. */
export async function requireSchemaCreate(db: Queryable, schemas: readonly string[], action: string): Promise<void> {
  const rows = await db.query<{ schema: string; role: string }>(
    /* SQL */ `
    SELECT
      n.nspname AS schema,
      current_user AS role
    FROM pg_namespace n
    WHERE n.nspname = ANY ($1::text[])
      AND NOT has_schema_privilege(current_user, n.oid, 'CREATE')
    ORDER BY n.nspname`,
    [[...new Set(schemas)]],
  );
  if (rows.length === 0) return;
  const grants = rows.map((row) => `GRANT CREATE ON SCHEMA ${quoteIdent(row.schema)} TO ${quoteIdent(row.role)};`);
  throw new PgscopeError(
    ErrorCode.INSUFFICIENT_PRIVILEGE,
    `pgscope's role "${rows[0]!.role}" may not ${action}: it lacks CREATE on schema ${rows.map((row) => row.schema).join(', ')}, ` +
      `where the new objects go. To allow it: ${grants.join(' ')}`,
    { schemas: rows.map((row) => row.schema) },
  );
}
