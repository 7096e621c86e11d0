import { describe, expect, it } from 'vitest';
import { aliasDeclarations, blankLiterals, columnRefs } from '../../src/manifest/sql-refs.js';
import { targetSafetyCheck } from '../../src/postgres/doctor/report.js';

const refs = (sql: string) => columnRefs(sql).map((r) => `${r.qualifier}.${r.column}`);

describe('column references in SQL snippets', () => {
  it('finds alias.column tokens, including casts and quoted identifiers', () => {
    expect(refs('c join graph_keys g on g.customer_id = c.customer_id::text and c."LastName" = 1')).toEqual([
      'g.customer_id',
      'c.customer_id',
      'c.LastName',
    ]);
    expect(refs('R.Rental_Date >= p.since_at')).toEqual(['r.rental_date', 'p.since_at']);
  });

  it('skips string literals, comments, numbers, three-part names, function calls and cast types', () => {
    expect(
      refs(
        "x.a = 'y.b' and x.c = E'it\\'s z.d' and 'it''s w.e' <> x.f -- q.r\n and 1.5 > 0 /* s.t */ and public.tbl.col = pg_catalog.now() and x.g::public.mytype is null and $$ u.v $$ = x.h",
      ),
    ).toEqual(['x.a', 'x.c', 'x.f', 'x.g', 'x.h']);
  });

  it('keeps offsets when blanking literals', () => {
    const sql = "a.b = 'c.d' -- e.f";
    expect(blankLiterals(sql)).toHaveLength(sql.length);
  });
});

describe('alias declarations', () => {
  it('reads from/join/comma aliases and ignores keywords', () => {
    const sql =
      'from rental mine join params p on mine.customer_id = p.customer_id::int join rental as other on other.inventory_id = mine.inventory_id, graph_keys g where exists (select 1 from payment pay where pay.x = 1)';
    expect(Object.fromEntries(aliasDeclarations(sql))).toEqual({
      mine: 'rental',
      p: 'params',
      other: 'rental',
      g: 'graph_keys',
      pay: 'payment',
    });
    expect([...aliasDeclarations('from rental join staff s on true').keys()]).toEqual(['s']);
  });

  it('marks an alias used for two relations as unknown', () => {
    expect(aliasDeclarations('from a x where exists (select 1 from b x)').get('x')).toBeNull();
  });
});

describe('target safety as a doctor check', () => {
  it('fails production-looking and remote targets, passes local ones', () => {
    expect(targetSafetyCheck('postgres://u@db.prod.example.com/app', false).status).toBe('fail');
    expect(targetSafetyCheck('postgres://u@x.abc.us-east-1.rds.amazonaws.com/app', true).status).toBe('fail');
    expect(targetSafetyCheck('postgres://u@localhost/product_catalog', false)).toMatchObject({
      status: 'pass',
      message: 'target postgres://u@localhost/product_catalog is local (loopback address)',
    });
    expect(targetSafetyCheck('postgres://u@postgres:5432/app', false).status).toBe('pass');
    expect(targetSafetyCheck('postgres://u@staging.example.com/app', false).status).toBe('fail');
    expect(targetSafetyCheck('postgres://u@staging.example.com/app', true).status).toBe('pass');
    expect(targetSafetyCheck('not a url', true).status).toBe('fail');
  });
});
