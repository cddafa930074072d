import { describe, expect, it } from 'vitest';
import { parseOneStatement } from '../../src/sql/parse.js';
import { collectReferences } from '../../src/sql/references.js';

const references = async (sql: string) => collectReferences((await parseOneStatement(sql)).node);
const IMPLICIT = ['=', '<>', '<', '>', '<=', '>='].map((name) => ({ schema: null, name }));

describe('collectReferences', () => {
  it('finds functions, casts, operators and relations, qualified or not, in every part of the statement', async () => {
    const found = await references(
      "SELECT pg_read_file('/x')::int, s.f(a), t.total, (r).shout FROM app.t JOIN v USING (id), LATERAL g(1) WHERE a OPERATOR(app.#+#) 1 AND b IN (SELECT c FROM w) ORDER BY a USING ~<~",
    );
    expect(found).toEqual({
      functions: [
        { schema: null, name: 'pg_read_file' },
        { schema: 's', name: 'f' },
        { schema: null, name: 'g' },
      ],
      operators: [...IMPLICIT, { schema: 'app', name: '#+#' }, { schema: null, name: '~<~' }],
      types: [
        { schema: null, name: 'pg_read_file' },
        { schema: 'pg_catalog', name: 'int4' },
        { schema: 's', name: 'f' },
        { schema: null, name: 'g' },
      ],
      relations: [
        { schema: 'app', name: 't' },
        { schema: null, name: 'v' },
        { schema: null, name: 'w' },
      ],
      written: [],
      attributeFunctions: ['total', 'shout'],
    });
  });

  it('finds the targets of INSERT, UPDATE, DELETE and MERGE, in WITH too, among the relations and as written', async () => {
    const found = await references('WITH moved AS (DELETE FROM app.queue RETURNING id) INSERT INTO done SELECT id FROM moved');
    expect(found.written).toEqual([
      { schema: null, name: 'done' },
      { schema: 'app', name: 'queue' },
    ]);
    expect(found.relations).toEqual([
      { schema: null, name: 'done' },
      { schema: null, name: 'moved' },
      { schema: 'app', name: 'queue' },
    ]);
    const merged = await references('MERGE INTO stock s USING deliveries d ON s.id = d.id WHEN MATCHED THEN UPDATE SET n = s.n + d.n');
    expect(merged.written).toEqual([{ schema: null, name: 'stock' }]);
    expect((await references('UPDATE accounts SET n = 1')).written).toEqual([{ schema: null, name: 'accounts' }]);
  });

  it('leaves BETWEEN to the implicit comparisons and finds the functions behind SQL syntax', async () => {
    const found = await references("SELECT extract(year FROM now()) WHERE 1 BETWEEN 0 AND 2 AND x LIKE 'a%'");
    expect(found.functions).toEqual([
      { schema: 'pg_catalog', name: 'extract' },
      { schema: null, name: 'now' },
    ]);
    expect(found.operators).toEqual([...IMPLICIT, { schema: null, name: '~~' }]);
  });
});
