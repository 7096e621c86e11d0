/**
 * Materialize's delete phase: each declared capsule table's graph rows are deleted with its
 * `deletePredicate`, in reverse load order. When a delete is blocked by a foreign key (23503):
 *
 * - the referencing row belongs to a capsule table (a closure row, or a row of a declared table
 *   its own predicate does not select): the key is checked at the end of the load instead
 *   (defer-fks.ts) and the delete retried — the row it points at is loaded again;
 * - it belongs to a table the manifest does not declare and the capsule does not hold (an
 *   undeclared child): an error naming the table, the constraint and the manifest fix — unless
 *   `deleteDependents` is on, in which case the rows that reference the rows being deleted are
 *   deleted first (and their own undeclared children, recursively), counted per table.
 *
 * Every statement runs under a savepoint, so a blocked delete leaves the transaction usable.
 */
import type pg from 'pg';
import { FailureError } from '../../errors.js';
import type { ManifestTable } from '../../manifest/schema.js';
import { quoteIdent } from '../../util/sql-names.js';
import { describePgError } from '../connect.js';
import { alterDeferrable, type DeferredForeignKey } from './defer-fks.js';
import { describeLoadError } from './load-error.js';
import { catalogName, deleteSql, GRAPH_TABLE, tableSql } from './sql.js';

export interface DependentDelete {
  /** The undeclared table rows were deleted from (partition root). */
  table: string;
  /** The foreign key through which they referenced the rows being deleted. */
  constraint: string;
  /** The table they referenced. */
  references: string;
  rows: number;
}

interface BlockingKey extends DeferredForeignKey {
  columns: string[];
  refColumns: string[];
  /** The child's partition root, schema-qualified and quoted. */
  rootRelation: string;
  noAction: boolean;
  deferrable: boolean;
}

export interface DeletePhaseInput {
  client: pg.Client;
  schema: string;
  /** Tables in load order (parents first); declared ones are deleted from, in reverse. */
  loadOrder: readonly string[];
  byName: ReadonlyMap<string, ManifestTable>;
  /** Keys deferred so far (grows with the ones deferred here). */
  deferred: DeferredForeignKey[];
  deleteDependents: boolean;
  onTable?: (table: string) => void | Promise<void>;
}

export async function deleteGraphRows(input: DeletePhaseInput): Promise<DependentDelete[]> {
  const capsuleTables = new Set(input.loadOrder.map(catalogName));
  const dependents: DependentDelete[] = [];
  for (const table of [...input.loadOrder].reverse()) {
    const spec = input.byName.get(table);
    if (!spec) continue; // closure-only table: nothing of the graph to replace
    await input.onTable?.(table);
    const root: Level = {
      relation: tableSql(table),
      name: table,
      alias: 't',
      where: `exists (select 1 from ${GRAPH_TABLE} g where ${spec.deletePredicate!})`,
      depth: 0,
    };
    await deleteRetrying(input, root, deleteSql(table, spec.deletePredicate!), capsuleTables, dependents);
  }
  return dependents;
}

/** Rows of one relation being deleted: `delete from <relation> <alias> where <where>`. */
interface Level {
  relation: string;
  name: string;
  alias: string;
  where: string;
  depth: number;
}

const MAX_DEPTH = 16;

async function deleteRetrying(
  input: DeletePhaseInput,
  level: Level,
  statement: string,
  capsuleTables: ReadonlySet<string>,
  dependents: DependentDelete[],
): Promise<number> {
  const { client } = input;
  for (let attempt = 0; ; attempt++) {
    await client.query('savepoint replay_delete');
    try {
      const r = await client.query(statement);
      await client.query('release savepoint replay_delete');
      return r.rowCount ?? 0;
    } catch (err) {
      await client.query('rollback to savepoint replay_delete');
      const code = (err as { code?: string }).code;
      const key = code === '23503' && attempt < 1000 ? await readBlockingKey(client, err) : null;
      if (!key) throw deleteFailed(level.name, err);
      if (capsuleTables.has(key.table) && key.noAction && !key.deferrable) {
        // A row the load keeps (or loads again) points at a row being replaced: check at the end.
        const refused = await alterDeferrable(client, key);
        if (refused !== null)
          throw deleteFailed(
            level.name,
            err,
            `(checking ${key.name} at the end of the load was refused: ${refused})`,
          );
        input.deferred.push(key);
        continue;
      }
      if (capsuleTables.has(key.table)) throw deleteFailed(level.name, err);
      if (!input.deleteDependents || level.depth >= MAX_DEPTH) throw blockedDelete(level.name, key, err);
      const child: Level = {
        relation: key.rootRelation,
        name: key.table,
        alias: `d${level.depth + 1}`,
        where: `exists (select 1 from ${level.relation} ${level.alias} where ${key.refColumns
          .map(
            (c, i) => `${level.alias}.${quoteIdent(c)} = d${level.depth + 1}.${quoteIdent(key.columns[i]!)}`,
          )
          .join(' and ')} and ${level.where})`,
        depth: level.depth + 1,
      };
      const rows = await deleteRetrying(
        input,
        child,
        `delete from ${child.relation} ${child.alias} where ${child.where}`,
        capsuleTables,
        dependents,
      );
      const seen = dependents.find((d) => d.table === key.table && d.constraint === key.name);
      if (seen) seen.rows += rows;
      else dependents.push({ table: key.table, constraint: key.name, references: key.refTable, rows });
    }
  }
}

/** The foreign key a 23503 error names (its top-level constraint when declared on a partitioned table). */
async function readBlockingKey(client: pg.Client, err: unknown): Promise<BlockingKey | null> {
  const e = err as { schema?: string; table?: string; constraint?: string };
  if (!e.schema || !e.table || !e.constraint) return null;
  const { rows } = await client.query<{
    relation: string;
    name: string;
    table: string;
    ref_table: string;
    root_relation: string;
    columns: string[];
    ref_columns: string[];
    no_action: boolean;
    deferrable: boolean;
  }>(
    `with recursive up as (
       select c.oid, c.conparentid from pg_constraint c
        where c.conname = $3 and c.conrelid = (select oid from pg_class where relname = $2
              and relnamespace = (select oid from pg_namespace where nspname = $1))
       union all
       select p.oid, p.conparentid from pg_constraint p join up on p.oid = up.conparentid)
     select c.conrelid::regclass::text as relation, c.conname as name,
            rc.relname as table, rp.relname as ref_table, rc.oid::regclass::text as root_relation,
            array(select a.attname::text from unnest(c.conkey) with ordinality k(n, o)
                    join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.n order by k.o) as columns,
            array(select a.attname::text from unnest(c.confkey) with ordinality k(n, o)
                    join pg_attribute a on a.attrelid = c.confrelid and a.attnum = k.n order by k.o) as ref_columns,
            c.confdeltype = 'a' and c.confupdtype = 'a' as no_action, c.condeferrable as deferrable
       from up join pg_constraint c on c.oid = up.oid
       join pg_class child on child.oid = c.conrelid
       join pg_class parent on parent.oid = c.confrelid
       join pg_class rc on rc.oid = case when child.relispartition then pg_partition_root(child.oid) else child.oid end
       join pg_class rp on rp.oid = case when parent.relispartition then pg_partition_root(parent.oid) else parent.oid end
      where up.conparentid = 0
      limit 1`,
    [e.schema, e.table, e.constraint],
  );
  const r = rows[0];
  if (!r) return null;
  return {
    relation: r.relation,
    name: r.name,
    table: r.table,
    refTable: r.ref_table,
    rootRelation: r.root_relation,
    columns: r.columns,
    refColumns: r.ref_columns,
    noAction: r.no_action,
    deferrable: r.deferrable,
  };
}

function deleteFailed(table: string, err: unknown, extra = ''): FailureError {
  return new FailureError(
    `deleting the graph's rows from ${table} failed: ${describeLoadError(err)}${extra ? ` ${extra}` : ''}; the transaction was rolled back and the target is unchanged`,
    { cause: err },
  );
}

function blockedDelete(table: string, key: BlockingKey, err: unknown): FailureError {
  return new FailureError(
    `deleting the graph's rows from ${table} is blocked by rows of ${key.table}, which the manifest does not declare: they reference them through ${key.name} (${key.table} (${key.columns.join(', ')}) → ${key.refTable} (${key.refColumns.join(', ')})). Declare ${key.table} in postgres.tables with a deletePredicate selecting the rows that belong to the graph (e.g. "exists (select 1 from ${key.refTable} p where ${key.refColumns.map((c, i) => `p.${c} = t.${key.columns[i]}`).join(' and ')} and …)"), or pass --delete-dependents to delete those rows too (listed and counted in the output). [${withoutNewlines(describePgError(err))}] The transaction was rolled back and the target is unchanged`,
    { cause: err },
  );
}

function withoutNewlines(s: string): string {
  return s.replace(/\s*\n[\s\S]*$/, '');
}
