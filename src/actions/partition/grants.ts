// The parent's table privileges, given to a new partition: the privileges its owner granted (same
// grantees, grant options included) and no others, whatever the new table started with (its
// creator's default privileges). pgscope grants as the owner (PostgreSQL records a grant by a member
// of the owning role as the owner's); grants recorded under another grantor are not copied
// (ownership.ts warns about them).
import type { Queryable } from '../../db/pool.js';
import type { ParentDress } from './ownership.js';
import type { PlannedStatement } from '../plan.js';
import { quoteIdent } from '../../sql/quote.js';

const PRIVILEGES = new Set(['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER', 'MAINTAIN']);

export interface AclChangeRow {
  grantee: string;
  change: 'GRANT' | 'GRANT_WITH_OPTION' | 'REVOKE' | 'REVOKE_OPTION';
  privileges: string[];
}

/**
 * The privileges the owner granted on the parent against those of the new table: $2 is the table
 * (null while planning: a new table starts with its owner's default privileges).
 */
const ACL_CHANGES_SQL = /* SQL */ `
  WITH desired AS (
    SELECT
      g.grantee,
      g.privilege_type,
      g.is_grantable
    FROM pg_class p
    CROSS JOIN LATERAL aclexplode(coalesce(p.relacl, acldefault('r', p.relowner))) g
    WHERE p.oid = $1
      AND g.grantor = p.relowner
  ),
  actual AS (
    SELECT
      g.grantee,
      g.privilege_type,
      g.is_grantable
    FROM pg_class p
    LEFT JOIN pg_class t ON t.oid = $2
    CROSS JOIN LATERAL aclexplode(coalesce(t.relacl, acldefault('r', coalesce(t.relowner, p.relowner)))) g
    WHERE p.oid = $1
  ),
  changes AS (
    SELECT
      coalesce(d.grantee, a.grantee) AS grantee_oid,
      coalesce(d.privilege_type, a.privilege_type) AS privilege,
      CASE
        WHEN a.grantee IS NULL AND d.is_grantable THEN 'GRANT_WITH_OPTION'
        WHEN a.grantee IS NULL THEN 'GRANT'
        WHEN d.grantee IS NULL THEN 'REVOKE'
        WHEN d.is_grantable AND NOT a.is_grantable THEN 'GRANT_WITH_OPTION'
        WHEN a.is_grantable AND NOT d.is_grantable THEN 'REVOKE_OPTION'
      END AS change
    FROM desired d
    FULL JOIN actual a
      ON a.grantee = d.grantee
      AND a.privilege_type = d.privilege_type
  )
  SELECT
    CASE WHEN c.grantee_oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(c.grantee_oid)) END AS grantee,
    c.change,
    array_agg(c.privilege ORDER BY c.privilege) AS privileges
  FROM changes c
  WHERE c.change IS NOT NULL
  GROUP BY 1, 2
  ORDER BY 2, 1`;

/** What differs between the parent's table privileges and the new table's (`tableOid` null while planning). */
export async function aclChanges(session: Queryable, dress: ParentDress, tableOid: number | null): Promise<AclChangeRow[]> {
  return session.query<AclChangeRow>(ACL_CHANGES_SQL, [dress.parentOid, tableOid]);
}

/** GRANT and REVOKE statements that give `table` the parent's table privileges. */
export function grantStatements(rows: AclChangeRow[], table: { schema: string; name: string }): PlannedStatement[] {
  const on = `ON TABLE ${quoteIdent(table.schema)}.${quoteIdent(table.name)}`;
  return rows.map((row) => {
    const privileges = row.privileges.filter((p) => PRIVILEGES.has(p)).join(', ');
    const sql = {
      GRANT: `GRANT ${privileges} ${on} TO ${row.grantee}`,
      GRANT_WITH_OPTION: `GRANT ${privileges} ${on} TO ${row.grantee} WITH GRANT OPTION`,
      REVOKE: `REVOKE ${privileges} ${on} FROM ${row.grantee}`,
      REVOKE_OPTION: `REVOKE GRANT OPTION FOR ${privileges} ${on} FROM ${row.grantee}`,
    }[row.change];
    const purpose = row.change.startsWith('GRANT')
      ? `grant ${row.grantee} what it has on the parent`
      : `take back from ${row.grantee} what it lacks on the parent`;
    return { sql, purpose, outsideTransaction: false };
  });
}
