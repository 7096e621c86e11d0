/**
 * What materialize needs to know about the target's tables: per column how to encode values for
 * COPY, whether it is generated (skipped) or a GENERATED ALWAYS identity (OVERRIDING SYSTEM VALUE),
 * and the sequence it owns (moved past the loaded maximum afterwards).
 */
import type pg from 'pg';
import type { ColumnCodec } from '../copy/copy-encoding.js';

interface TargetColumn {
  name: string;
  codec: ColumnCodec;
  /** The column's type as SQL (`format_type`), e.g. for a cast from text. */
  typeSql: string;
  /** A composite (row type) value or array of them: not COPY-encodable from JSON objects. */
  composite: boolean;
  generated: boolean;
  identityAlways: boolean;
  /** Owned sequence (serial or identity), schema-qualified; null when none. */
  sequence: string | null;
}

export interface TargetTable {
  name: string;
  /** 'r' ordinary, 'p' partitioned (loaded through the parent). */
  kind: string;
  columns: Map<string, TargetColumn>;
}

export async function readTargetTables(
  client: pg.Client,
  schema: string,
  tables: readonly string[],
): Promise<Map<string, TargetTable>> {
  const { rows } = await client.query<{
    table: string;
    relkind: string;
    name: string;
    generated: boolean;
    identity: string;
    base_type: string;
    base_typtype: string;
    is_array: boolean;
    elem_type: string | null;
    elem_typtype: string | null;
    delimiter: string | null;
    sequence: string | null;
    type_sql: string;
  }>(
    `select c.relname as table, c.relkind::text as relkind, a.attname as name,
            a.attgenerated <> '' as generated, a.attidentity::text as identity,
            bt.typname as base_type, bt.typtype::text as base_typtype,
            (bt.typelem <> 0 and bt.typlen = -1) as is_array,
            et.typname as elem_type, et.typtype::text as elem_typtype, et.typdelim::text as delimiter,
            pg_get_serial_sequence(format('%I.%I', n.nspname, c.relname), a.attname) as sequence,
            format_type(a.atttypid, a.atttypmod) as type_sql
       from pg_attribute a
       join pg_class c on c.oid = a.attrelid
       join pg_namespace n on n.oid = c.relnamespace
       join pg_type t on t.oid = a.atttypid
       join pg_type bt on bt.oid = case when t.typtype = 'd' then t.typbasetype else t.oid end
       left join pg_type e0 on e0.oid = bt.typelem and bt.typlen = -1
       left join pg_type et on et.oid = case when e0.typtype = 'd' then e0.typbasetype else e0.oid end
      where n.nspname = $1 and c.relname = any($2::text[]) and c.relkind in ('r', 'p', 'f')
        and a.attnum > 0 and not a.attisdropped
      order by c.relname, a.attnum`,
    [schema, [...tables]],
  );
  const out = new Map<string, TargetTable>();
  for (const r of rows) {
    let t = out.get(r.table);
    if (!t) {
      t = { name: r.table, kind: r.relkind, columns: new Map() };
      out.set(r.table, t);
    }
    const isJson = (type: string | null) => type === 'json' || type === 'jsonb';
    let codec: ColumnCodec;
    if (isJson(r.base_type)) codec = { kind: 'json', jsonb: r.base_type === 'jsonb' };
    else if (r.is_array)
      codec = {
        kind: 'array',
        element: isJson(r.elem_type) ? 'json' : 'plain',
        delimiter: r.delimiter ?? ',',
      };
    else codec = { kind: 'plain' };
    t.columns.set(r.name, {
      name: r.name,
      codec,
      typeSql: r.type_sql,
      composite: r.base_typtype === 'c' || (r.is_array && r.elem_typtype === 'c'),
      generated: r.generated,
      identityAlways: r.identity === 'a',
      sequence: r.sequence,
    });
  }
  return out;
}
