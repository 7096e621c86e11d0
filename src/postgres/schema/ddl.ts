/**
 * The capsule's `schema` section: the DDL needed to recreate the exported tables on an empty
 * database, read from the source catalog with SQL only (no pg_dump on the machine).
 *
 * Carried: columns (format_type types, collations, defaults, NOT NULL, identity and generated
 * columns), primary/unique/check/exclusion/foreign keys (pg_get_constraintdef), indexes
 * (pg_get_indexdef, except those backing a constraint), the enum/domain/composite/range types
 * and sequences the columns use, partitioning (PARTITION BY + partitions with their bounds),
 * non-public schemas, and the extensions providing types/functions/operator classes used.
 * Not carried (recorded in `warnings`): triggers, row-level security policies, and user
 * functions called by defaults, checks or indexes — create those with the manifest's `setup`.
 *
 * Every statement is built from catalog values. Names read as names are quoted in TypeScript
 * (util/sql-names.ts); names inside catalog-rendered fragments (collations, identity sequences,
 * composite type attributes) are quoted by the catalog query with quote_ident.
 */
import type pg from 'pg';
import { FailureError } from '../../errors.js';
import { quoteIdent, quoteQualified, quoteSchemaName } from '../../util/sql-names.js';
import { topologicalOrder } from '../../util/topological-order.js';

export const SCHEMA_SECTION_VERSION = 1;

interface ColumnDdl {
  name: string;
  type: string;
  notNull: boolean;
  default: string | null;
  identity: 'always' | 'by default' | null;
  /** Generation expression of a generated column. */
  generated: string | null;
  generatedKind: 'stored' | 'virtual' | null;
  /** Identity sequence options (SEQUENCE NAME … START WITH …). */
  identityOptions: string | null;
  collation: string | null;
}

interface ConstraintDdl {
  name: string;
  kind: 'primary' | 'unique' | 'check' | 'foreign' | 'exclusion';
  /** pg_get_constraintdef() */
  definition: string;
  /** ALTER TABLE … ADD CONSTRAINT … */
  sql: string;
  /** For foreign keys: the referenced table (capsule name). */
  references?: string;
}

interface IndexDdl {
  name: string;
  /** pg_get_indexdef(): CREATE [UNIQUE] INDEX … */
  sql: string;
}

export interface PartitionDdl {
  name: string;
  schema: string;
  /** FOR VALUES … or DEFAULT */
  bound: string;
  /** CREATE TABLE … PARTITION OF … */
  create: string;
  constraints: ConstraintDdl[];
  indexes: IndexDdl[];
  /** Sub-partitions, when this partition is itself partitioned. */
  partitions: PartitionDdl[];
}

export interface TableDdl {
  /** Name as used for the capsule's `tables` key: bare in `public`, else schema.name. */
  name: string;
  schema: string;
  relname: string;
  /** CREATE TABLE with columns, defaults, NOT NULL, identity, generated columns, PARTITION BY. */
  create: string;
  columns: ColumnDdl[];
  partitionKey: string | null;
  constraints: ConstraintDdl[];
  indexes: IndexDdl[];
  partitions: PartitionDdl[];
}

interface TypeDdl {
  schema: string;
  name: string;
  kind: 'enum' | 'domain' | 'composite' | 'range';
  create: string;
}

interface SequenceDdl {
  schema: string;
  name: string;
  create: string;
  /** ALTER SEQUENCE … OWNED BY …, run after the tables exist. */
  ownedBy: string | null;
}

interface OmittedForeignKey {
  table: string;
  constraint: string;
  references: string;
  reason: string;
}

export interface SchemaSection {
  version: typeof SCHEMA_SECTION_VERSION;
  /** server_version of the source database. */
  sourceServerVersion: string;
  /** Non-public schemas used (CREATE SCHEMA IF NOT EXISTS). */
  schemas: string[];
  /** Extensions whose types/functions/operator classes the tables use (CREATE EXTENSION IF NOT EXISTS). */
  extensions: string[];
  /** In dependency order. */
  types: TypeDdl[];
  sequences: SequenceDdl[];
  /** FK parents before children (cycles broken by name order; FKs are added after the data). */
  tables: TableDdl[];
  /** Foreign keys to tables that are not in this section (left out, so the schema can be created). */
  omittedForeignKeys: OmittedForeignKey[];
  /** What the section could not carry. */
  warnings: string[];
}

interface RelRow {
  oid: number;
  schema: string;
  relname: string;
  relkind: string;
  persistence: string;
  partkey: string | null;
}

function capsuleTableName(schema: string, relname: string): string {
  return schema === 'public' ? relname : `${schema}.${relname}`;
}

/** Resolve table names (bare or schema-qualified, through the search_path) to oids. */
export async function resolveTables(
  client: pg.Client,
  names: readonly string[],
): Promise<Map<string, RelRow>> {
  const { rows } = await client.query<RelRow & { input: string }>(
    `select x.input, c.oid::int as oid, n.nspname as schema, c.relname, c.relkind::text as relkind,
            c.relpersistence::text as persistence,
            case when c.relkind = 'p' then pg_get_partkeydef(c.oid) end as partkey
       from unnest($1::text[], $2::text[]) as x(input, arg)
       join pg_class c on c.oid = to_regclass(x.arg)
       join pg_namespace n on n.oid = c.relnamespace`,
    [names, names.map(quoteQualified)],
  );
  const out = new Map<string, RelRow>();
  for (const r of rows) out.set(r.input, r);
  const missing = names.filter((n) => !out.has(n));
  if (missing.length > 0)
    throw new FailureError(`cannot read the schema: table(s) ${missing.join(', ')} not found in the source`);
  const notTables = rows.filter((r) => r.relkind !== 'r' && r.relkind !== 'p');
  if (notTables.length > 0)
    throw new FailureError(
      `cannot carry the schema of ${notTables.map((r) => r.input).join(', ')}: only ordinary and partitioned tables are supported (views and foreign tables need the manifest's setup commands)`,
    );
  return out;
}

export interface ForeignKeyEdge {
  constraint: string;
  childOid: number;
  parentOid: number;
  child: string;
  parent: string;
  columns: string[];
  refColumns: string[];
  /** format_type of the referenced columns. */
  refTypes: string[];
}

/** Foreign keys declared on the given tables (not the per-partition clones), with qualified names. */
export async function readForeignKeyEdges(
  client: pg.Client,
  oids: readonly number[],
): Promise<ForeignKeyEdge[]> {
  if (oids.length === 0) return [];
  const { rows } = await client.query<{
    constraint: string;
    child_oid: number;
    parent_oid: number;
    child_schema: string;
    child: string;
    parent_schema: string;
    parent: string;
    columns: string[];
    ref_columns: string[];
    ref_types: string[];
    parent_is_partition: boolean;
  }>(
    `select c.conname as constraint, c.conrelid::int as child_oid, c.confrelid::int as parent_oid,
            cn.nspname as child_schema, ch.relname as child, pn.nspname as parent_schema, pa.relname as parent,
            array(select a.attname::text from unnest(c.conkey) with ordinality k(n, o)
                    join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.n order by k.o) as columns,
            array(select a.attname::text from unnest(c.confkey) with ordinality k(n, o)
                    join pg_attribute a on a.attrelid = c.confrelid and a.attnum = k.n order by k.o) as ref_columns,
            array(select format_type(a.atttypid, a.atttypmod) from unnest(c.confkey) with ordinality k(n, o)
                    join pg_attribute a on a.attrelid = c.confrelid and a.attnum = k.n order by k.o) as ref_types,
            pa.relispartition as parent_is_partition
       from pg_constraint c
       join pg_class ch on ch.oid = c.conrelid join pg_namespace cn on cn.oid = ch.relnamespace
       join pg_class pa on pa.oid = c.confrelid join pg_namespace pn on pn.oid = pa.relnamespace
      where c.contype = 'f' and c.conrelid = any($1::oid[]) and c.conparentid = 0
      order by ch.relname, c.conname`,
    [oids],
  );
  return rows
    .filter((r) => !r.parent_is_partition)
    .map((r) => ({
      constraint: r.constraint,
      childOid: r.child_oid,
      parentOid: r.parent_oid,
      child: capsuleTableName(r.child_schema, r.child),
      parent: capsuleTableName(r.parent_schema, r.parent),
      columns: r.columns,
      refColumns: r.ref_columns,
      refTypes: r.ref_types,
    }));
}

/**
 * The tables reachable from `names` by following foreign keys to their parents, recursively
 * (excluding `exclude`). Returns capsule names, the given ones first.
 */
export async function foreignKeyAncestors(
  client: pg.Client,
  names: readonly string[],
  exclude: ReadonlySet<string> = new Set(),
): Promise<string[]> {
  const resolved = await resolveTables(client, names);
  const seen = new Map<number, string>();
  for (const n of names) {
    const r = resolved.get(n)!;
    seen.set(r.oid, n);
  }
  let frontier = [...seen.keys()];
  while (frontier.length > 0) {
    const edges = await readForeignKeyEdges(client, frontier);
    frontier = [];
    for (const e of edges) {
      if (seen.has(e.parentOid) || exclude.has(e.parent)) continue;
      seen.set(e.parentOid, e.parent);
      frontier.push(e.parentOid);
    }
  }
  return [...seen.values()];
}

async function readColumnsDdl(client: pg.Client, oid: number): Promise<ColumnDdl[]> {
  const { rows } = await client.query<{
    name: string;
    type: string;
    not_null: boolean;
    def: string | null;
    identity: string;
    generated: string;
    collation: string | null;
    ident_opts: string | null;
  }>(
    `select a.attname as name, format_type(a.atttypid, a.atttypmod) as type, a.attnotnull as not_null,
            pg_get_expr(d.adbin, d.adrelid) as def, a.attidentity::text as identity,
            a.attgenerated::text as generated,
            case when a.attcollation <> 0 and a.attcollation <> t.typcollation
                 then quote_ident(cn.nspname) || '.' || quote_ident(co.collname) end as collation,
            (select format('SEQUENCE NAME %s START WITH %s INCREMENT BY %s MINVALUE %s MAXVALUE %s CACHE %s%s',
                           quote_ident(sn.nspname) || '.' || quote_ident(sc.relname), s.seqstart, s.seqincrement,
                           s.seqmin, s.seqmax, s.seqcache, case when s.seqcycle then ' CYCLE' else '' end)
               from pg_depend dep join pg_sequence s on s.seqrelid = dep.objid
               join pg_class sc on sc.oid = s.seqrelid join pg_namespace sn on sn.oid = sc.relnamespace
              where dep.classid = 'pg_class'::regclass and dep.refclassid = 'pg_class'::regclass
                and dep.refobjid = a.attrelid and dep.refobjsubid = a.attnum and dep.deptype = 'i'
              limit 1) as ident_opts
       from pg_attribute a
       join pg_type t on t.oid = a.atttypid
       left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
       left join pg_collation co on co.oid = a.attcollation
       left join pg_namespace cn on cn.oid = co.collnamespace
      where a.attrelid = $1 and a.attnum > 0 and not a.attisdropped
      order by a.attnum`,
    [oid],
  );
  return rows.map((r) => ({
    name: r.name,
    type: r.type,
    notNull: r.not_null,
    default: r.generated ? null : r.def,
    identity: r.identity === 'a' ? 'always' : r.identity === 'd' ? 'by default' : null,
    generated: r.generated ? r.def : null,
    generatedKind: r.generated === 's' ? 'stored' : r.generated === 'v' ? 'virtual' : null,
    identityOptions: r.ident_opts,
    collation: r.collation,
  }));
}

function columnSql(c: ColumnDdl): string {
  let s = `${quoteIdent(c.name)} ${c.type}`;
  if (c.collation) s += ` COLLATE ${c.collation}`;
  if (c.generated !== null)
    s += ` GENERATED ALWAYS AS (${c.generated}) ${c.generatedKind === 'virtual' ? 'VIRTUAL' : 'STORED'}`;
  else if (c.default !== null) s += ` DEFAULT ${c.default}`;
  if (c.identity)
    s += ` GENERATED ${c.identity === 'always' ? 'ALWAYS' : 'BY DEFAULT'} AS IDENTITY${c.identityOptions ? ` (${c.identityOptions})` : ''}`;
  if (c.notNull) s += ' NOT NULL';
  return s;
}

const KIND: Record<string, ConstraintDdl['kind']> = {
  p: 'primary',
  u: 'unique',
  c: 'check',
  f: 'foreign',
  x: 'exclusion',
};

async function readConstraints(
  client: pg.Client,
  oid: number,
  qualified: string,
): Promise<(ConstraintDdl & { refOid: number })[]> {
  const { rows } = await client.query<{
    name: string;
    contype: string;
    def: string;
    ref_oid: number;
    ref_schema: string | null;
    ref_name: string | null;
  }>(
    `select c.conname as name, c.contype::text as contype, pg_get_constraintdef(c.oid) as def,
            c.confrelid::int as ref_oid, rn.nspname as ref_schema, r.relname as ref_name
       from pg_constraint c
       left join pg_class r on r.oid = c.confrelid
       left join pg_namespace rn on rn.oid = r.relnamespace
      where c.conrelid = $1 and c.contype in ('p', 'u', 'c', 'f', 'x')
        and c.conparentid = 0 and c.conislocal
      order by position(c.contype::text in 'pucxf'), c.conname`,
    [oid],
  );
  return rows.map((r) => ({
    name: r.name,
    kind: KIND[r.contype]!,
    definition: r.def,
    sql: `ALTER TABLE ${qualified} ADD CONSTRAINT ${quoteIdent(r.name)} ${r.def}`,
    refOid: r.ref_oid,
    ...(r.contype === 'f' && r.ref_schema && r.ref_name
      ? { references: capsuleTableName(r.ref_schema, r.ref_name) }
      : {}),
  }));
}

async function readIndexes(client: pg.Client, oid: number): Promise<IndexDdl[]> {
  // Skip indexes that back a constraint (created by it) and, on partitions, indexes that are
  // attached to an index of the parent (created by the parent's index).
  const { rows } = await client.query<{ name: string; sql: string }>(
    `select ic.relname as name, pg_get_indexdef(i.indexrelid) as sql
       from pg_index i join pg_class ic on ic.oid = i.indexrelid
      where i.indrelid = $1
        and not exists (select 1 from pg_constraint c
                         where c.conrelid = i.indrelid and c.conindid = i.indexrelid and c.contype in ('p', 'u', 'x'))
        and not exists (select 1 from pg_inherits h where h.inhrelid = i.indexrelid)
      order by ic.relname`,
    [oid],
  );
  // A partitioned table's index reads "ON ONLY parent" (the parent alone, attached to partitions
  // later); recreated as "ON parent", Postgres builds the partitions' indexes too.
  return rows.map((r) => ({ name: r.name, sql: r.sql.replace(/ ON ONLY /, ' ON ') }));
}

async function readPartitions(
  client: pg.Client,
  parentOid: number,
  parentQualified: string,
  fk: FkContext,
  tableName: string,
): Promise<PartitionDdl[]> {
  const { rows } = await client.query<{
    oid: number;
    schema: string;
    name: string;
    bound: string;
    relkind: string;
    partkey: string | null;
  }>(
    `select c.oid::int as oid, n.nspname as schema, c.relname as name, pg_get_expr(c.relpartbound, c.oid) as bound,
            c.relkind::text as relkind, case when c.relkind = 'p' then pg_get_partkeydef(c.oid) end as partkey
       from pg_inherits h join pg_class c on c.oid = h.inhrelid join pg_namespace n on n.oid = c.relnamespace
      where h.inhparent = $1 and c.relispartition
      order by c.relname`,
    [parentOid],
  );
  const out: PartitionDdl[] = [];
  for (const r of rows) {
    const qualified = quoteSchemaName(r.schema, r.name);
    const constraints = await keepConstraints(client, r.oid, qualified, fk, tableName);
    out.push({
      name: r.name,
      schema: r.schema,
      bound: r.bound,
      create: `CREATE TABLE ${qualified} PARTITION OF ${parentQualified} ${r.bound}${r.partkey ? ` PARTITION BY ${r.partkey}` : ''}`,
      constraints,
      indexes: await readIndexes(client, r.oid),
      partitions: r.relkind === 'p' ? await readPartitions(client, r.oid, qualified, fk, tableName) : [],
    });
  }
  return out;
}

/** Decides which foreign keys to leave out: returns the reason, or null to keep it. */
export type SkipForeignKey = (fk: { table: string; constraint: string; references: string }) => string | null;

interface FkContext {
  omitted: OmittedForeignKey[];
  inSet: (oid: number) => boolean;
  skip: SkipForeignKey;
}

async function keepConstraints(
  client: pg.Client,
  oid: number,
  qualified: string,
  fk: FkContext,
  tableName: string,
): Promise<ConstraintDdl[]> {
  const all = await readConstraints(client, oid, qualified);
  const kept: ConstraintDdl[] = [];
  for (const { refOid, ...c } of all) {
    const ref = { table: tableName, constraint: c.name, references: c.references ?? String(refOid) };
    const reason =
      c.kind !== 'foreign'
        ? null
        : !fk.inSet(refOid)
          ? 'the referenced table is not in the capsule'
          : fk.skip(ref);
    if (reason) {
      fk.omitted.push({ ...ref, reason });
      continue;
    }
    kept.push(c);
  }
  return kept;
}

interface UserType {
  oid: number;
  schema: string;
  name: string;
  typtype: string;
  relkind: string | null;
  extension: string | null;
  is_array: boolean;
  deps: number[];
}

/** User-defined types used by the columns (through arrays, domains, composites and ranges). */
async function readUsedTypes(client: pg.Client, relOids: number[]): Promise<UserType[]> {
  const { rows } = await client.query<UserType>(
    `with recursive used(oid) as (
        select a.atttypid from pg_attribute a
         where a.attrelid = any($1::oid[]) and a.attnum > 0 and not a.attisdropped
        union
        select x.dep from used u join pg_type t on t.oid = u.oid,
          lateral (select t.typelem where t.typelem <> 0 and t.typcategory = 'A'
                   union all select t.typbasetype where t.typtype = 'd'
                   union all select a2.atttypid from pg_attribute a2
                              where t.typtype = 'c' and a2.attrelid = t.typrelid and a2.attnum > 0 and not a2.attisdropped
                   union all select r.rngsubtype from pg_range r where r.rngtypid = t.oid) x(dep)
      )
      select t.oid::int as oid, n.nspname as schema, t.typname as name, t.typtype::text as typtype,
             (select c.relkind::text from pg_class c where c.oid = t.typrelid) as relkind,
             (t.typcategory = 'A' and t.typelem <> 0) as is_array,
             (select e.extname from pg_depend d join pg_extension e on e.oid = d.refobjid
               where d.classid = 'pg_type'::regclass and d.objid = t.oid and d.deptype = 'e' limit 1) as extension,
             array(select distinct x.dep::int from (
                     select t.typelem as dep where t.typelem <> 0 and t.typcategory = 'A'
                     union all select t.typbasetype where t.typtype = 'd'
                     union all select a2.atttypid from pg_attribute a2
                                where t.typtype = 'c' and a2.attrelid = t.typrelid and a2.attnum > 0 and not a2.attisdropped
                     union all select r.rngsubtype from pg_range r where r.rngtypid = t.oid) x) as deps
        from used u join pg_type t on t.oid = u.oid join pg_namespace n on n.oid = t.typnamespace
       where n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg_toast%'`,
    [relOids],
  );
  return rows;
}

async function typeDdl(client: pg.Client, t: UserType, warnings: string[]): Promise<TypeDdl | null> {
  const q = quoteSchemaName(t.schema, t.name);
  if (t.typtype === 'e') {
    const { rows } = await client.query<{ labels: string }>(
      `select string_agg(quote_literal(enumlabel), ', ' order by enumsortorder) as labels from pg_enum where enumtypid = $1`,
      [t.oid],
    );
    return {
      schema: t.schema,
      name: t.name,
      kind: 'enum',
      create: `CREATE TYPE ${q} AS ENUM (${rows[0]?.labels ?? ''})`,
    };
  }
  if (t.typtype === 'd') {
    const { rows } = await client.query<{
      base: string;
      collation: string | null;
      def: string | null;
      not_null: boolean;
      checks: string | null;
    }>(
      `select format_type(t.typbasetype, t.typtypmod) as base,
              case when t.typcollation <> 0 and t.typcollation <> bt.typcollation
                   then (select quote_ident(cn.nspname) || '.' || quote_ident(co.collname) from pg_collation co
                           join pg_namespace cn on cn.oid = co.collnamespace where co.oid = t.typcollation) end as collation,
              t.typdefault as def, t.typnotnull as not_null,
              (select string_agg(format(' CONSTRAINT %s %s', quote_ident(c.conname), pg_get_constraintdef(c.oid)), '' order by c.conname)
                 from pg_constraint c where c.contypid = t.oid and c.contype = 'c') as checks
         from pg_type t join pg_type bt on bt.oid = t.typbasetype where t.oid = $1`,
      [t.oid],
    );
    const r = rows[0]!;
    let s = `CREATE DOMAIN ${q} AS ${r.base}`;
    if (r.collation) s += ` COLLATE ${r.collation}`;
    if (r.def !== null) s += ` DEFAULT ${r.def}`;
    if (r.not_null) s += ' NOT NULL';
    if (r.checks) s += r.checks;
    return { schema: t.schema, name: t.name, kind: 'domain', create: s };
  }
  if (t.typtype === 'c' && t.relkind === 'c') {
    const { rows } = await client.query<{ cols: string }>(
      `select string_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod), ', ' order by a.attnum) as cols
         from pg_type t join pg_attribute a on a.attrelid = t.typrelid
        where t.oid = $1 and a.attnum > 0 and not a.attisdropped`,
      [t.oid],
    );
    return {
      schema: t.schema,
      name: t.name,
      kind: 'composite',
      create: `CREATE TYPE ${q} AS (${rows[0]?.cols ?? ''})`,
    };
  }
  if (t.typtype === 'r') {
    const { rows } = await client.query<{ sub: string }>(
      `select format_type(rngsubtype, null) as sub from pg_range where rngtypid = $1`,
      [t.oid],
    );
    return {
      schema: t.schema,
      name: t.name,
      kind: 'range',
      create: `CREATE TYPE ${q} AS RANGE (SUBTYPE = ${rows[0]?.sub})`,
    };
  }
  warnings.push(
    `type ${t.schema}.${t.name} (typtype ${t.typtype}) cannot be recreated from the catalog; create it in the manifest's setup`,
  );
  return null;
}

/**
 * Read the DDL of `tables` (capsule names: bare through the search_path, or schema.table). Foreign
 * keys to tables outside the list are left out and listed in `omittedForeignKeys`; pass the FK
 * ancestors too (see foreignKeyAncestors) to keep them.
 */
export async function readSchemaSection(
  client: pg.Client,
  tables: readonly string[],
  options: { skipForeignKey?: SkipForeignKey } = {},
): Promise<SchemaSection> {
  const resolved = await resolveTables(client, tables);
  const warnings: string[] = [];
  const omitted: OmittedForeignKey[] = [];
  const oids = new Set([...resolved.values()].map((r) => r.oid));
  const fk: FkContext = {
    omitted,
    inSet: (oid) => oids.has(oid),
    skip: options.skipForeignKey ?? (() => null),
  };
  const version = (await client.query<{ v: string }>("select current_setting('server_version') as v"))
    .rows[0]!.v;

  const tableDdls: (TableDdl & { oid: number })[] = [];
  for (const name of tables) tableDdls.push(await readTableDdl(client, resolved.get(name)!, name, fk));
  const allRelOids = tableDdls.map((t) => t.oid);
  const extensions = new Set<string>();
  const types = await readTypesDdl(client, allRelOids, extensions, warnings);
  const sequences = await readSequencesDdl(client, allRelOids, oids);
  await readUncarriedDependencies(client, allRelOids, extensions, warnings);

  return {
    version: SCHEMA_SECTION_VERSION,
    sourceServerVersion: version,
    schemas: usedSchemas(tableDdls, types, sequences),
    extensions: [...extensions].sort(),
    types,
    sequences,
    tables: parentsFirst(tableDdls).map(({ oid: _oid, ...t }) => t),
    omittedForeignKeys: omitted,
    warnings: [...new Set(warnings)],
  };
}

/** One table's CREATE TABLE, constraints, indexes and partitions. */
async function readTableDdl(
  client: pg.Client,
  r: RelRow,
  capsuleName: string,
  fk: FkContext,
): Promise<TableDdl & { oid: number }> {
  const qualified = quoteSchemaName(r.schema, r.relname);
  const columns = await readColumnsDdl(client, r.oid);
  const cols = columns.map(columnSql);
  const create = `CREATE ${r.persistence === 'u' ? 'UNLOGGED ' : ''}TABLE ${qualified} (\n  ${cols.join(',\n  ')}\n)${r.partkey ? ` PARTITION BY ${r.partkey}` : ''}`;
  const constraints = await keepConstraints(client, r.oid, qualified, fk, capsuleName);
  const partitions = r.relkind === 'p' ? await readPartitions(client, r.oid, qualified, fk, capsuleName) : [];
  return {
    oid: r.oid,
    name: capsuleName,
    schema: r.schema,
    relname: r.relname,
    create,
    columns,
    partitionKey: r.partkey,
    constraints,
    indexes: await readIndexes(client, r.oid),
    partitions,
  };
}

/** The types the tables' columns use, in dependency order; extension types add their extension. */
async function readTypesDdl(
  client: pg.Client,
  relOids: number[],
  extensions: Set<string>,
  warnings: string[],
): Promise<TypeDdl[]> {
  const used = await readUsedTypes(client, relOids);
  const byOid = new Map(used.map((t) => [t.oid, t]));
  const own = used.filter((t) => {
    if (t.extension) {
      extensions.add(t.extension);
      return false;
    }
    // Array types are created with their element type.
    return !t.is_array;
  });
  // Follow arrays to their element so a domain over mood[] comes after mood.
  const expand = (o: number): number[] => {
    const t = byOid.get(o);
    if (!t) return [];
    if (t.is_array) return t.deps.flatMap(expand);
    return [o];
  };
  const ordered = topologicalOrder(
    own.map((t) => t.oid),
    (oid) => (byOid.get(oid)?.deps ?? []).flatMap(expand),
  );
  const types: TypeDdl[] = [];
  for (const oid of ordered) {
    const d = await typeDdl(client, byOid.get(oid)!, warnings);
    if (d) types.push(d);
  }
  return types;
}

/** Sequences used by column defaults (not identity sequences, created by the column). */
async function readSequencesDdl(
  client: pg.Client,
  relOids: number[],
  oids: Set<number>,
): Promise<SequenceDdl[]> {
  const { rows: seqRows } = await client.query<{
    schema: string;
    name: string;
    type: string;
    inc: string;
    min: string;
    max: string;
    start: string;
    cache: string;
    cycle: boolean;
    owner_oid: number | null;
    owner_schema: string | null;
    owner_table: string | null;
    owner_column: string | null;
  }>(
    `select distinct n.nspname as schema, s.relname as name, format_type(q.seqtypid, null) as type,
            q.seqincrement::text as inc, q.seqmin::text as min, q.seqmax::text as max,
            q.seqstart::text as start, q.seqcache::text as cache, q.seqcycle as cycle,
            own.refobjid::int as owner_oid, own_n.nspname as owner_schema, own_c.relname as owner_table,
            own_a.attname as owner_column
       from pg_attrdef ad
       join pg_depend d on d.classid = 'pg_attrdef'::regclass and d.objid = ad.oid
                       and d.refclassid = 'pg_class'::regclass
       join pg_class s on s.oid = d.refobjid and s.relkind = 'S'
       join pg_namespace n on n.oid = s.relnamespace
       join pg_sequence q on q.seqrelid = s.oid
       left join pg_depend own on own.classid = 'pg_class'::regclass and own.objid = s.oid
                               and own.refclassid = 'pg_class'::regclass and own.deptype = 'a'
       left join pg_class own_c on own_c.oid = own.refobjid
       left join pg_namespace own_n on own_n.oid = own_c.relnamespace
       left join pg_attribute own_a on own_a.attrelid = own.refobjid and own_a.attnum = own.refobjsubid
      where ad.adrelid = any($1::oid[])
      order by 1, 2`,
    [relOids],
  );
  return seqRows.map((s) => {
    const q = quoteSchemaName(s.schema, s.name);
    return {
      schema: s.schema,
      name: s.name,
      create: `CREATE SEQUENCE ${q} AS ${s.type} INCREMENT BY ${s.inc} MINVALUE ${s.min} MAXVALUE ${s.max} START WITH ${s.start} CACHE ${s.cache}${s.cycle ? ' CYCLE' : ''}`,
      ownedBy:
        s.owner_oid !== null && oids.has(s.owner_oid) && s.owner_schema && s.owner_table && s.owner_column
          ? `ALTER SEQUENCE ${q} OWNED BY ${quoteSchemaName(s.owner_schema, s.owner_table)}.${quoteIdent(s.owner_column)}`
          : null,
    };
  });
}

/**
 * Extensions providing functions/operator classes used by defaults, constraints and indexes (added
 * to `extensions`); user functions they call, triggers and row-level security policies are not
 * carried and are reported in `warnings`.
 */
async function readUncarriedDependencies(
  client: pg.Client,
  relOids: number[],
  extensions: Set<string>,
  warnings: string[],
): Promise<void> {
  const { rows: depRows } = await client.query<{ extension: string | null; fn: string | null; rel: string }>(
    `with objs as (
        select 'pg_attrdef'::regclass as classid, ad.oid as objid, ad.adrelid as rel from pg_attrdef ad where ad.adrelid = any($1::oid[])
        union all select 'pg_constraint'::regclass, c.oid, c.conrelid from pg_constraint c where c.conrelid = any($1::oid[])
        union all select 'pg_class'::regclass, i.indexrelid, i.indrelid from pg_index i where i.indrelid = any($1::oid[])
      )
      select distinct e.extname as extension,
             case when e.extname is null and d.refclassid = 'pg_proc'::regclass
                  then d.refobjid::regprocedure::text end as fn,
             o.rel::regclass::text as rel
        from objs o
        join pg_depend d on d.classid = o.classid and d.objid = o.objid and d.deptype = 'n'
        left join pg_depend de on de.classid = d.refclassid and de.objid = d.refobjid and de.deptype = 'e'
        left join pg_extension e on e.oid = de.refobjid
       where d.refclassid in ('pg_proc'::regclass, 'pg_opclass'::regclass, 'pg_operator'::regclass)
         and (e.oid is not null or (d.refclassid = 'pg_proc'::regclass and
              (select pronamespace from pg_proc where oid = d.refobjid) not in
              (select oid from pg_namespace where nspname in ('pg_catalog', 'information_schema'))))`,
    [relOids],
  );
  for (const r of depRows) {
    if (r.extension) extensions.add(r.extension);
    else if (r.fn)
      warnings.push(
        `${r.rel} uses function ${r.fn}, which is not carried; create it in the manifest's setup`,
      );
  }
  const { rows: extras } = await client.query<{ rel: string; triggers: number; policies: number }>(
    `select c.oid::regclass::text as rel,
            (select count(*)::int from pg_trigger t where t.tgrelid = c.oid and not t.tgisinternal) as triggers,
            (select count(*)::int from pg_policy p where p.polrelid = c.oid) as policies
       from pg_class c where c.oid = any($1::oid[])`,
    [relOids],
  );
  for (const r of extras) {
    if (r.triggers > 0) warnings.push(`${r.rel} has ${r.triggers} trigger(s), which are not carried`);
    if (r.policies > 0)
      warnings.push(`${r.rel} has ${r.policies} row-level security policy(ies), which are not carried`);
  }
}

/** Tables with their foreign-key parents first. */
function parentsFirst<T extends TableDdl>(tableDdls: T[]): T[] {
  const byName = new Map(tableDdls.map((t) => [t.name, t]));
  return topologicalOrder(
    tableDdls.map((t) => t.name),
    (n) => (byName.get(n)?.constraints ?? []).flatMap((c) => (c.references ? [c.references] : [])),
  ).map((n) => byName.get(n)!);
}

/** The non-public schemas of the tables, their partitions, types and sequences, sorted. */
function usedSchemas(tableDdls: TableDdl[], types: TypeDdl[], sequences: SequenceDdl[]): string[] {
  const schemas = new Set<string>();
  const addSchema = (s: string) => {
    if (s !== 'public') schemas.add(s);
  };
  const walk = (ps: PartitionDdl[]) => {
    for (const p of ps) {
      addSchema(p.schema);
      walk(p.partitions);
    }
  };
  for (const t of tableDdls) {
    addSchema(t.schema);
    walk(t.partitions);
  }
  for (const t of types) addSchema(t.schema);
  for (const s of sequences) addSchema(s.schema);
  return [...schemas].sort();
}
