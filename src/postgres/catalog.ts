/**
 * Reading the live database's catalog: tables, columns and foreign keys. Used by doctor (live
 * checks), the exporter (closure) and the materializer (load order).
 */
import type pg from 'pg';

export interface ForeignKey {
  /** Constraint name. */
  name: string;
  /** The referencing (child) table. */
  table: string;
  columns: string[];
  /** The referenced (parent) table. */
  refTable: string;
  refColumns: string[];
  deferrable: boolean;
  initiallyDeferred: boolean;
  /** Set when the FK is declared on partitions of `table` rather than on `table` itself. */
  onPartitions?: string[];
}

/**
 * Foreign keys whose child table is in `schema`, named by the tables the manifest uses.
 *
 * Partitioned tables need care. An FK declared on a partitioned parent is cloned onto every
 * partition (and, when it references a partitioned table, once per referenced partition): the
 * clones have `conparentid <> 0` and are skipped. An FK declared directly on a partition (pg_dump
 * of Pagila does this for `payment_p2022_01`, …) is reported as an FK of the partition tree's root
 * (`payment`), once per distinct column mapping, with the partitions listed in `onPartitions`.
 */
export async function readForeignKeys(client: pg.Client, schema = 'public'): Promise<ForeignKey[]> {
  const { rows } = await client.query<{
    name: string;
    table: string;
    columns: string[];
    ref_table: string;
    ref_columns: string[];
    deferrable: boolean;
    initially_deferred: boolean;
    partition: string | null;
  }>(
    `select c.conname as name,
            root_child.relname as table,
            case when child.relispartition then child.relname end as partition,
            array(select a.attname::text
                    from unnest(c.conkey) with ordinality k(attnum, ord)
                    join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.attnum
                   order by k.ord) as columns,
            root_parent.relname as ref_table,
            array(select a.attname::text
                    from unnest(c.confkey) with ordinality k(attnum, ord)
                    join pg_attribute a on a.attrelid = c.confrelid and a.attnum = k.attnum
                   order by k.ord) as ref_columns,
            c.condeferrable as deferrable,
            c.condeferred as initially_deferred
       from pg_constraint c
       join pg_class child on child.oid = c.conrelid
       join pg_namespace n on n.oid = child.relnamespace
       join pg_class parent on parent.oid = c.confrelid
       join pg_class root_child
         on root_child.oid = case when child.relispartition then pg_partition_root(child.oid) else child.oid end
       join pg_class root_parent
         on root_parent.oid = case when parent.relispartition then pg_partition_root(parent.oid) else parent.oid end
      where c.contype = 'f'
        and n.nspname = $1
        and c.conparentid = 0
      order by root_child.relname, child.relispartition, c.conname`,
    [schema],
  );
  const out: ForeignKey[] = [];
  const byMapping = new Map<string, ForeignKey>();
  for (const r of rows) {
    const key = JSON.stringify([r.table, r.columns, r.ref_table, r.ref_columns]);
    const seen = byMapping.get(key);
    if (seen && r.partition) {
      if (seen.onPartitions) seen.onPartitions.push(r.partition);
      continue;
    }
    const fk: ForeignKey = {
      name: r.name,
      table: r.table,
      columns: r.columns,
      refTable: r.ref_table,
      refColumns: r.ref_columns,
      deferrable: r.deferrable,
      initiallyDeferred: r.initially_deferred,
    };
    if (r.partition) fk.onPartitions = [r.partition];
    byMapping.set(key, fk);
    out.push(fk);
  }
  return out;
}

export interface ColumnInfo {
  name: string;
  /** format_type() of the column, e.g. "integer", "timestamp with time zone". */
  type: string;
  notNull: boolean;
  hasDefault: boolean;
  /** Generated (stored) columns cannot be inserted into. */
  generated: boolean;
}

/**
 * Columns of each requested table (ordinary, partitioned, views, foreign tables), in column
 * order. Tables that do not exist are absent from the map.
 */
export async function readColumns(
  client: pg.Client,
  tables: readonly string[],
  schema = 'public',
): Promise<Map<string, ColumnInfo[]>> {
  const out = new Map<string, ColumnInfo[]>();
  if (tables.length === 0) return out;
  const { rows } = await client.query<{
    table: string;
    name: string;
    type: string;
    not_null: boolean;
    has_default: boolean;
    generated: boolean;
  }>(
    `select cl.relname as table, a.attname as name, format_type(a.atttypid, a.atttypmod) as type,
            a.attnotnull as not_null, a.atthasdef as has_default, a.attgenerated <> '' as generated
       from pg_attribute a
       join pg_class cl on cl.oid = a.attrelid
       join pg_namespace n on n.oid = cl.relnamespace
      where n.nspname = $1 and cl.relname = any($2::text[])
        and cl.relkind in ('r', 'p', 'v', 'm', 'f')
        and a.attnum > 0 and not a.attisdropped
      order by cl.relname, a.attnum`,
    [schema, [...tables]],
  );
  for (const r of rows) {
    let list = out.get(r.table);
    if (!list) {
      list = [];
      out.set(r.table, list);
    }
    list.push({
      name: r.name,
      type: r.type,
      notNull: r.not_null,
      hasDefault: r.has_default,
      generated: r.generated,
    });
  }
  return out;
}

/** Does a table (ordinary or partitioned, or a view) of that name exist in `schema`? */
export async function tableExists(client: pg.Client, table: string, schema = 'public'): Promise<boolean> {
  const { rows } = await client.query(
    `select 1 from pg_class cl join pg_namespace n on n.oid = cl.relnamespace
      where n.nspname = $1 and cl.relname = $2 and cl.relkind in ('r', 'p', 'v', 'm', 'f')`,
    [schema, table],
  );
  return rows.length > 0;
}

export interface SchemaTable {
  name: string;
  columns: { name: string; type: string }[];
  primaryKey: string[];
}

/**
 * Every ordinary or partitioned table of `schema` (partitions are part of their root), with its
 * columns in order and its primary key: what `init` drafts a manifest from.
 */
export async function readSchemaTables(client: pg.Client, schema = 'public'): Promise<SchemaTable[]> {
  const { rows } = await client.query<{
    table: string;
    columns: { name: string; type: string }[];
    pk: string[] | null;
  }>(
    `select cl.relname as table,
            (select json_agg(json_build_object('name', a.attname, 'type', format_type(a.atttypid, a.atttypmod)) order by a.attnum)
               from pg_attribute a where a.attrelid = cl.oid and a.attnum > 0 and not a.attisdropped) as columns,
            (select array_agg(a.attname::text order by k.ord)
               from pg_constraint c
               cross join unnest(c.conkey) with ordinality k(attnum, ord)
               join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.attnum
              where c.conrelid = cl.oid and c.contype = 'p') as pk
       from pg_class cl join pg_namespace n on n.oid = cl.relnamespace
      where n.nspname = $1 and cl.relkind in ('r', 'p') and not cl.relispartition
      order by cl.relname`,
    [schema],
  );
  return rows.map((r) => ({ name: r.table, columns: r.columns ?? [], primaryKey: r.pk ?? [] }));
}
