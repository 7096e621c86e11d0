/**
 * Catalog snapshots for comparing a recreated schema with its source: columns, constraints,
 * indexes, types, sequences and partitions of the given schemas, as comparable text.
 */
import pg from 'pg';

export interface CatalogSnapshot {
  columns: string[];
  constraints: string[];
  indexes: string[];
  types: string[];
  sequences: string[];
  partitions: string[];
}

export async function catalogSnapshot(url: string, schemas: string[] = ['public']): Promise<CatalogSnapshot> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const q = async (sql: string) => (await c.query<{ x: string }>(sql, [schemas])).rows.map((r) => r.x);
    return {
      columns: await q(`
        select format('%s.%s #%s %s %s notnull=%s default=%s identity=%s generated=%s collation=%s',
                      n.nspname, cl.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                      pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated, co.collname) as x
          from pg_attribute a join pg_class cl on cl.oid = a.attrelid join pg_namespace n on n.oid = cl.relnamespace
          left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
          left join pg_collation co on co.oid = a.attcollation and a.attcollation <> 100
         where n.nspname = any($1) and cl.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped
         order by 1`),
      constraints: await q(`
        select format('%s %s %s %s deferrable=%s deferred=%s valid=%s', c.conrelid::regclass, c.conname, c.contype,
                      pg_get_constraintdef(c.oid), c.condeferrable, c.condeferred, c.convalidated) as x
          from pg_constraint c join pg_namespace n on n.oid = c.connamespace
         where n.nspname = any($1) and c.contype in ('p','u','c','f','x') order by 1`),
      indexes: await q(`
        select pg_get_indexdef(i.indexrelid) as x from pg_index i join pg_class cl on cl.oid = i.indrelid
          join pg_namespace n on n.oid = cl.relnamespace where n.nspname = any($1) order by 1`),
      types: await q(`
        select format('%s.%s %s %s %s %s', n.nspname, t.typname, t.typtype, format_type(t.typbasetype, t.typtypmod),
                      t.typnotnull, t.typdefault)
               || coalesce((select ' ' || string_agg(enumlabel, ',' order by enumsortorder) from pg_enum where enumtypid = t.oid), '')
               || coalesce((select ' ' || string_agg(pg_get_constraintdef(k.oid), ',') from pg_constraint k where k.contypid = t.oid), '')
               || coalesce((select ' ' || string_agg(a.attname || ':' || format_type(a.atttypid, a.atttypmod), ',' order by a.attnum)
                              from pg_attribute a join pg_class r on r.oid = a.attrelid where r.oid = t.typrelid and r.relkind = 'c'), '') as x
          from pg_type t join pg_namespace n on n.oid = t.typnamespace
         where n.nspname = any($1) and t.typtype in ('e','d','c','r')
           and (t.typrelid = 0 or (select relkind from pg_class where oid = t.typrelid) = 'c') order by 1`),
      sequences: await q(`
        select format('%s %s %s %s %s %s %s', s.seqrelid::regclass, format_type(s.seqtypid, null), s.seqstart, s.seqincrement,
                      s.seqmax, s.seqmin, s.seqcycle) as x
          from pg_sequence s join pg_class cl on cl.oid = s.seqrelid join pg_namespace n on n.oid = cl.relnamespace
         where n.nspname = any($1) order by 1`),
      partitions: await q(`
        select format('%s of %s %s', c.oid::regclass, h.inhparent::regclass, pg_get_expr(c.relpartbound, c.oid)) as x
          from pg_class c join pg_inherits h on h.inhrelid = c.oid join pg_namespace n on n.oid = c.relnamespace
         where n.nspname = any($1) and c.relispartition and c.relkind in ('r','p') order by 1`),
    };
  } finally {
    await c.end();
  }
}

/** md5 of every row's text form, order-independent, per table. */
export async function tableChecksums(url: string, tables: string[]): Promise<Record<string, string>> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const out: Record<string, string> = {};
    for (const t of tables) {
      const { rows } = await c.query<{ md5: string; n: string }>(
        `select md5(coalesce(string_agg(x::text, E'\\n' order by x::text), '')) as md5, count(*) as n from ${t} x`,
      );
      out[t] = `${rows[0]!.n}:${rows[0]!.md5}`;
    }
    return out;
  } finally {
    await c.end();
  }
}
