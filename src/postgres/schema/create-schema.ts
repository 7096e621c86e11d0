/**
 * Recreating a capsule's `schema` section (see ddl.ts) on an empty database, in two phases so the
 * data can be loaded in between:
 *
 *   const created = await createSchemaFromCapsule(client, capsule.schema, { replace });
 *   … load the rows …
 *   await created.finish();
 *
 * Phase one creates schemas, extensions, types, sequences, tables and partitions. Primary/unique/
 * check/exclusion constraints, indexes and foreign keys are added by `finish()`, after the data:
 * building an index once is faster than maintaining it row by row, and loading needs no parent-
 * first order. It is safe because the whole materialization is one transaction and every
 * constraint is validated when it is added, so bad data still fails the load (naming the
 * constraint). Identity columns declared GENERATED ALWAYS are BY DEFAULT while loading (rows keep
 * their exported ids) and ALWAYS again afterwards; sequences are moved past the loaded values.
 *
 * The caller owns the transaction. Statements come from the capsule, so before the first one runs
 * every statement is parsed and checked against what the exporter writes (sql-guard.ts):
 * a capsule cannot run anything but that DDL.
 */
import type pg from 'pg';
import { z } from 'zod';
import { FailureError, InputError } from '../../errors.js';
import { quoteIdent, quoteSchemaName } from '../../util/sql-names.js';
import { describePgError } from '../connect.js';
import type { PartitionDdl, SchemaSection, TableDdl } from './ddl.js';
import { SCHEMA_SECTION_VERSION } from './ddl.js';
import { checkSchemaSectionSql } from './sql-guard.js';

const constraintSchema = z.object({
  name: z.string(),
  kind: z.enum(['primary', 'unique', 'check', 'foreign', 'exclusion']),
  definition: z.string(),
  sql: z.string(),
  references: z.string().optional(),
});
const indexSchema = z.object({ name: z.string(), sql: z.string() });
const partitionSchema: z.ZodType<PartitionDdl> = z.lazy(() =>
  z.object({
    name: z.string(),
    schema: z.string(),
    bound: z.string(),
    create: z.string(),
    constraints: z.array(constraintSchema),
    indexes: z.array(indexSchema),
    partitions: z.array(partitionSchema),
  }),
);

/** The `schema` section as read from a capsule (untrusted input: checked before use). */
const schemaSectionSchema = z.object({
  version: z.literal(SCHEMA_SECTION_VERSION, {
    error: (iss) =>
      `must be ${SCHEMA_SECTION_VERSION} (this replay-env reads schema sections of version ${SCHEMA_SECTION_VERSION}), got ${JSON.stringify(iss.input)}`,
  }),
  sourceServerVersion: z.string(),
  schemas: z.array(z.string()),
  extensions: z.array(z.string()),
  types: z.array(
    z.object({
      schema: z.string(),
      name: z.string(),
      kind: z.enum(['enum', 'domain', 'composite', 'range']),
      create: z.string(),
    }),
  ),
  sequences: z.array(
    z.object({ schema: z.string(), name: z.string(), create: z.string(), ownedBy: z.string().nullable() }),
  ),
  tables: z.array(
    z.object({
      name: z.string(),
      schema: z.string(),
      relname: z.string(),
      create: z.string(),
      columns: z.array(
        z.object({
          name: z.string(),
          type: z.string(),
          notNull: z.boolean(),
          default: z.string().nullable(),
          identity: z.enum(['always', 'by default']).nullable(),
          generated: z.string().nullable(),
          generatedKind: z.enum(['stored', 'virtual']).nullable(),
          identityOptions: z.string().nullable(),
          collation: z.string().nullable(),
        }),
      ),
      partitionKey: z.string().nullable(),
      constraints: z.array(constraintSchema),
      indexes: z.array(indexSchema),
      partitions: z.array(partitionSchema),
    }),
  ),
  omittedForeignKeys: z.array(
    z.object({ table: z.string(), constraint: z.string(), references: z.string(), reason: z.string() }),
  ),
  warnings: z.array(z.string()),
});

/** Validate a capsule's `schema` value; `where` names the capsule in the error. */
export function parseSchemaSection(value: unknown, where: string): SchemaSection {
  if (value === undefined || value === null)
    throw new InputError(
      `${where} carries no schema section (key "schema"): export it again with this replay-env, or create the schema with the manifest's setup commands instead of --create-schema`,
    );
  const parsed = schemaSectionSchema.safeParse(value);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new InputError(
      `${where}: schema.${first?.path.join('.') ?? ''} ${first?.message ?? 'is invalid'} — the capsule's schema section cannot be used`,
    );
  }
  return parsed.data as SchemaSection;
}

export interface CreateSchemaOptions {
  /** Drop and recreate tables/types/sequences of the section that already exist. */
  replace?: boolean;
  /** Add constraints and indexes in finish() (default true); false adds them immediately. */
  deferConstraints?: boolean;
  onStep?: (step: string) => void;
  /** Names the capsule in errors. */
  where?: string;
}

export interface CreatedSchema {
  /** Capsule names of the tables created, in creation (FK parent first) order. */
  tables: string[];
  /** Statements run so far. */
  statements: number;
  /** Add the deferred constraints and indexes, restore identity ALWAYS, move sequences past the data. */
  finish(): Promise<{ constraints: number; indexes: number; sequences: number }>;
}

function walkPartitions(ps: PartitionDdl[], fn: (p: PartitionDdl) => void): void {
  for (const p of ps) {
    fn(p);
    walkPartitions(p.partitions, fn);
  }
}

/** Names (schema-qualified) of the section's relations and types that already exist on the target. */
async function existingSchemaObjects(
  client: pg.Client,
  section: SchemaSection,
): Promise<{ tables: string[]; types: string[]; sequences: string[] }> {
  const rels = section.tables.map((t) => quoteSchemaName(t.schema, t.relname));
  const types = section.types.map((t) => quoteSchemaName(t.schema, t.name));
  const seqs = section.sequences.map((s) => quoteSchemaName(s.schema, s.name));
  const { rows } = await client.query<{ kind: string; name: string }>(
    `select 'table' as kind, x as name from unnest($1::text[]) x where to_regclass(x) is not null
     union all select 'type', x from unnest($2::text[]) x where to_regtype(x) is not null
     union all select 'sequence', x from unnest($3::text[]) x where to_regclass(x) is not null`,
    [rels, types, seqs],
  );
  const pick = (k: string) => rows.filter((r) => r.kind === k).map((r) => r.name);
  return { tables: pick('table'), types: pick('type'), sequences: pick('sequence') };
}

async function run(client: pg.Client, sql: string, what: string): Promise<void> {
  try {
    await client.query(sql);
  } catch (err) {
    throw new FailureError(
      `creating the capsule's schema failed at ${what}: ${describePgError(err)}\n  SQL: ${sql}`,
      {
        cause: err,
      },
    );
  }
}

export async function createSchemaFromCapsule(
  client: pg.Client,
  section: SchemaSection,
  options: CreateSchemaOptions = {},
): Promise<CreatedSchema> {
  await checkSchemaSectionSql(section, options.where ?? 'the capsule');
  const step = options.onStep ?? (() => {});
  const ex = new SchemaStatements(client);
  await dropClashes(ex, section, options, step);
  step('creating schemas, extensions, types and sequences');
  await createPrerequisites(ex, section);
  step(`creating ${section.tables.length} table(s)`);
  const identityAlways = await createTables(ex, section);
  for (const s of section.sequences)
    if (s.ownedBy) await ex.exec(s.ownedBy, `sequence ${s.schema}.${s.name} owner`);

  const deferred = options.deferConstraints ?? true;
  let added = { constraints: 0, indexes: 0 };
  if (!deferred) added = await addConstraints(ex, section);

  return {
    tables: section.tables.map((t) => t.name),
    get statements() {
      return ex.statements;
    },
    async finish() {
      if (deferred) {
        step('adding constraints and indexes');
        added = await addConstraints(ex, section);
      }
      for (const { table, column } of identityAlways)
        await ex.exec(
          `ALTER TABLE ${table} ALTER COLUMN ${quoteIdent(column)} SET GENERATED ALWAYS`,
          `identity ${table}.${column}`,
        );
      const sequences = await syncSequences(
        client,
        section.tables.map((t) => quoteSchemaName(t.schema, t.relname)),
      );
      return { ...added, sequences };
    },
  };
}

/** Runs the schema's statements on the target, counting them; a failure names the statement. */
class SchemaStatements {
  statements = 0;
  constructor(readonly client: pg.Client) {}

  async exec(sql: string, what: string): Promise<void> {
    await run(this.client, sql, what);
    this.statements++;
  }
}

/** Objects of the section the target already has: refused, or dropped with `replace`. */
async function dropClashes(
  ex: SchemaStatements,
  section: SchemaSection,
  options: CreateSchemaOptions,
  step: (message: string) => void,
): Promise<void> {
  const existing = await existingSchemaObjects(ex.client, section);
  const clashes = [...existing.tables, ...existing.types, ...existing.sequences];
  if (clashes.length === 0) return;
  if (!options.replace)
    throw new FailureError(
      `the target database already has ${clashes.join(', ')}; --create-schema needs an empty database (pass --replace-schema to drop and recreate these objects, losing their data)`,
    );
  step(`dropping ${clashes.length} existing object(s)`);
  for (const t of existing.tables) await ex.exec(`DROP TABLE IF EXISTS ${t} CASCADE`, `drop ${t}`);
  for (const s of existing.sequences) await ex.exec(`DROP SEQUENCE IF EXISTS ${s} CASCADE`, `drop ${s}`);
  // Reverse dependency order: a domain over an enum goes before the enum.
  for (const t of [...section.types].reverse()) {
    const q = quoteSchemaName(t.schema, t.name);
    if (!existing.types.includes(q)) continue;
    await ex.exec(`DROP ${t.kind === 'domain' ? 'DOMAIN' : 'TYPE'} IF EXISTS ${q} CASCADE`, `drop ${q}`);
  }
}

/** Schemas, extensions, types and sequences: what the tables need to exist first. */
async function createPrerequisites(ex: SchemaStatements, section: SchemaSection): Promise<void> {
  for (const s of section.schemas)
    await ex.exec(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(s)}`, `schema ${s}`);
  for (const e of section.extensions) {
    try {
      await ex.exec(`CREATE EXTENSION IF NOT EXISTS ${quoteIdent(e)}`, `extension ${e}`);
    } catch (err) {
      throw new FailureError(
        `the capsule's schema needs the PostgreSQL extension "${e}", which the target server cannot create (${(err as Error).message.split('\n')[0]}); use a server that has it, or the manifest's setup commands`,
        { cause: err },
      );
    }
  }
  for (const t of section.types) await ex.exec(t.create, `type ${t.schema}.${t.name}`);
  for (const s of section.sequences) await ex.exec(s.create, `sequence ${s.schema}.${s.name}`);
}

/**
 * The tables and their partitions, without constraints or indexes. Identity ALWAYS columns are
 * made BY DEFAULT (loading keeps the exported ids; ALWAYS would reject them) and returned, for
 * finish() to restore.
 */
async function createTables(
  ex: SchemaStatements,
  section: SchemaSection,
): Promise<{ table: string; column: string }[]> {
  const identityAlways: { table: string; column: string }[] = [];
  const createPartitions = async (ps: PartitionDdl[]) => {
    for (const p of ps) {
      await ex.exec(p.create, `partition ${p.schema}.${p.name}`);
      await createPartitions(p.partitions);
    }
  };
  for (const t of section.tables) {
    await ex.exec(t.create, `table ${t.name}`);
    const q = quoteSchemaName(t.schema, t.relname);
    for (const c of t.columns) {
      if (c.identity !== 'always') continue;
      await ex.exec(
        `ALTER TABLE ${q} ALTER COLUMN ${quoteIdent(c.name)} SET GENERATED BY DEFAULT`,
        `identity ${t.name}.${c.name}`,
      );
      identityAlways.push({ table: q, column: c.name });
    }
    await createPartitions(t.partitions);
  }
  return identityAlways;
}

/** Keys and checks first (foreign keys need the referenced unique keys), then indexes, then FKs. */
async function addConstraints(
  ex: SchemaStatements,
  section: SchemaSection,
): Promise<{ constraints: number; indexes: number }> {
  let constraints = 0;
  let indexes = 0;
  const everyRelation: (TableDdl | PartitionDdl)[] = [];
  for (const t of section.tables) {
    everyRelation.push(t);
    walkPartitions(t.partitions, (p) => everyRelation.push(p));
  }
  for (const r of everyRelation)
    for (const c of r.constraints.filter((c) => c.kind !== 'foreign')) {
      await ex.exec(c.sql, `constraint ${c.name}`);
      constraints++;
    }
  for (const r of everyRelation)
    for (const i of r.indexes) {
      await ex.exec(i.sql, `index ${i.name}`);
      indexes++;
    }
  for (const r of everyRelation)
    for (const c of r.constraints.filter((c) => c.kind === 'foreign')) {
      await ex.exec(c.sql, `foreign key ${c.name}`);
      constraints++;
    }
  return { constraints, indexes };
}

/**
 * Move every sequence feeding a column of `tables` (serial defaults and identity columns) past the
 * largest value loaded, so the app's next insert does not collide with a replayed row.
 */
async function syncSequences(client: pg.Client, tables: readonly string[]): Promise<number> {
  if (tables.length === 0) return 0;
  const { rows } = await client.query<{ seq: string; rel: string; col: string }>(
    `select distinct s.oid::regclass::text as seq, a.attrelid::regclass::text as rel, quote_ident(a.attname) as col
       from pg_class s
       join pg_depend d on d.refobjid = s.oid and d.refclassid = 'pg_class'::regclass
       join pg_attrdef ad on d.classid = 'pg_attrdef'::regclass and d.objid = ad.oid
       join pg_attribute a on a.attrelid = ad.adrelid and a.attnum = ad.adnum
      where s.relkind = 'S' and ad.adrelid = any(select to_regclass(x) from unnest($1::text[]) x)
     union
     select s.oid::regclass::text, a.attrelid::regclass::text, quote_ident(a.attname)
       from pg_class s
       join pg_depend d on d.objid = s.oid and d.classid = 'pg_class'::regclass and d.deptype = 'i'
       join pg_attribute a on a.attrelid = d.refobjid and a.attnum = d.refobjsubid
      where s.relkind = 'S' and a.attrelid = any(select to_regclass(x) from unnest($1::text[]) x)`,
    [tables],
  );
  let moved = 0;
  for (const r of rows) {
    const res = await client.query<{ v: string | null }>(
      `select setval($1::regclass, greatest(m, q.seqmin)) as v
         from (select max(${r.col})::bigint as m from ${r.rel}) x, pg_sequence q
        where q.seqrelid = $1::regclass and m is not null and m <= q.seqmax`,
      [r.seq],
    );
    if (res.rows.length > 0) moved++;
  }
  return moved;
}
