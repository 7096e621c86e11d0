/**
 * A checksum of a whole database — its user schemas' catalog (tables, columns, constraints,
 * indexes, sequences' state) and every user table's rows — to prove that a failed command left a
 * target exactly as it was: take it before, run the command, compare after.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';

export interface DatabaseChecksum {
  /** One sha256 over everything below. */
  digest: string;
  /** Per table: `<rows> <md5 of the rows' text, sorted>`. */
  tables: Record<string, string>;
  /** md5 of the catalog description (schemas, columns, constraints, indexes, sequences). */
  catalog: string;
}

export async function databaseChecksum(url: string): Promise<DatabaseChecksum> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const userSchemas = `n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast') and n.nspname not like 'pg_temp%' and n.nspname not like 'pg_toast_temp%'`;
    const catalog = await c.query<{ m: string | null }>(`
      select md5(string_agg(x, E'\\n' order by x collate "C")) as m from (
        select format('schema %s', n.nspname) as x from pg_namespace n where ${userSchemas}
        union all
        select format('col %s.%s %s %s %s %s', n.nspname, cl.relname, a.attname, format_type(a.atttypid, a.atttypmod),
                      a.attnotnull, pg_get_expr(d.adbin, d.adrelid))
          from pg_attribute a join pg_class cl on cl.oid = a.attrelid join pg_namespace n on n.oid = cl.relnamespace
          left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
         where ${userSchemas} and cl.relkind in ('r', 'p', 'v', 'm') and a.attnum > 0 and not a.attisdropped
        union all
        select format('con %s.%s %s %s', n.nspname, cl.relname, co.conname, pg_get_constraintdef(co.oid))
          from pg_constraint co join pg_class cl on cl.oid = co.conrelid join pg_namespace n on n.oid = cl.relnamespace
         where ${userSchemas}
        union all
        select format('idx %s.%s %s', n.nspname, i.relname, pg_get_indexdef(i.oid))
          from pg_index x join pg_class i on i.oid = x.indexrelid join pg_namespace n on n.oid = i.relnamespace
         where ${userSchemas}
        union all
        select format('seq %s.%s %s %s', schemaname, sequencename, last_value, increment_by) from pg_sequences
        union all
        select format('fn %s.%s', n.nspname, p.proname) from pg_proc p join pg_namespace n on n.oid = p.pronamespace
         where ${userSchemas}
        union all
        select format('type %s.%s', n.nspname, t.typname) from pg_type t join pg_namespace n on n.oid = t.typnamespace
         where ${userSchemas} and t.typtype in ('e', 'd', 'c') and not exists (select 1 from pg_class r where r.reltype = t.oid)
      ) s`);
    const tables = await c.query<{ t: string }>(`
      select format('%I.%I', n.nspname, cl.relname) as t
        from pg_class cl join pg_namespace n on n.oid = cl.relnamespace
       where ${userSchemas} and cl.relkind in ('r', 'p') order by 1`);
    const out: Record<string, string> = {};
    for (const { t } of tables.rows) {
      const r = await c.query<{ n: string; m: string | null }>(
        `select count(*)::text as n, md5(coalesce(string_agg(x, E'\\n' order by x collate "C"), '')) as m
           from (select r::text as x from only ${t} r) s`,
      );
      out[t] = `${r.rows[0]!.n} ${r.rows[0]!.m}`;
    }
    const cat = catalog.rows[0]?.m ?? '';
    const digest = createHash('sha256').update(cat).update(JSON.stringify(out)).digest('hex');
    return { digest, tables: out, catalog: cat };
  } finally {
    await c.end();
  }
}
