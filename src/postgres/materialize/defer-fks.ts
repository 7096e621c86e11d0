/**
 * Foreign keys checked at the end of the load instead of row by row.
 *
 * `set constraints all deferred` only reaches DEFERRABLE constraints. Three shapes need more:
 * - a row that references a row of the same table (a reply to a message) where the capsule holds
 *   both as closure and graph rows, which point at each other either way (deferred up front);
 * - tables that reference each other in a cycle (deferred up front);
 * - a reload: a row of a capsule table that the delete keeps (a closure row such as a reply by
 *   someone outside the graph, or a forum moderated by a graph person) references a graph row
 *   that is deleted and inserted again (deferred when the delete hits it, delete-phase.ts).
 *
 * Such a non-deferrable NO ACTION foreign key is made `DEFERRABLE INITIALLY DEFERRED` inside the
 * load's transaction, and `NOT DEFERRABLE` again after the rows are in and verified (`set
 * constraints all immediate` first: every deferred check runs there, with Postgres' message). The
 * catalog change is part of the transaction: a failed or interrupted load rolls it back with
 * everything else. Keys with another action (CASCADE, SET NULL, RESTRICT…) are left alone:
 * deferring a cascade would run it at the end. Altering a constraint needs the table's owner (and
 * briefly locks the table against writes); when refused, the key stays as it is (a warning says so).
 */
import type pg from 'pg';
import { quoteIdent } from '../../util/sql-names.js';
import { describePgError } from '../connect.js';
import { catalogName } from './sql.js';

export interface DeferredForeignKey {
  /** The child relation (schema-qualified, quoted), as ALTER TABLE takes it. */
  relation: string;
  name: string;
  table: string;
  refTable: string;
}

interface Candidate extends DeferredForeignKey {
  self: boolean;
}

/** Non-deferrable NO ACTION FKs in `schema` between `tables` (catalog names of partition roots). */
async function readCandidates(
  client: pg.Client,
  schema: string,
  tables: readonly string[],
): Promise<Candidate[]> {
  const { rows } = await client.query<{ relation: string; name: string; table: string; ref_table: string }>(
    `select c.conrelid::regclass::text as relation, c.conname as name,
            rc.relname as table, rp.relname as ref_table
       from pg_constraint c
       join pg_class child on child.oid = c.conrelid
       join pg_namespace n on n.oid = child.relnamespace
       join pg_class parent on parent.oid = c.confrelid
       join pg_class rc on rc.oid = case when child.relispartition then pg_partition_root(child.oid) else child.oid end
       join pg_class rp on rp.oid = case when parent.relispartition then pg_partition_root(parent.oid) else parent.oid end
      where c.contype = 'f' and c.conparentid = 0 and not c.condeferrable
        and c.confdeltype = 'a' and c.confupdtype = 'a'
        and n.nspname = $1 and rc.relname = any($2::text[]) and rp.relname = any($2::text[])
      order by 3, 2`,
    [schema, [...tables]],
  );
  return rows.map((r) => ({
    relation: r.relation,
    name: r.name,
    table: r.table,
    refTable: r.ref_table,
    self: r.table === r.ref_table,
  }));
}

/**
 * Defers, up front, the foreign keys the load itself needs: self-references of `selfRefTables`
 * (tables holding closure rows and graph rows, which may point at each other either way) and the
 * keys inside `cycles` (groups of tables in FK cycles). Keys a reload needs are deferred when a
 * delete hits them (deferOnDemand, delete-phase.ts).
 */
export async function deferForeignKeys(
  client: pg.Client,
  input: {
    schema: string;
    tables: readonly string[];
    selfRefTables: readonly string[];
    cycles: readonly (readonly string[])[];
  },
): Promise<{ deferred: DeferredForeignKey[]; warnings: string[] }> {
  const selfRef = new Set(input.selfRefTables.map(catalogName));
  const cycleOf = new Map<string, number>();
  input.cycles.forEach((c, i) => {
    for (const t of c) cycleOf.set(catalogName(t), i);
  });
  const candidates = (await readCandidates(client, input.schema, input.tables.map(catalogName))).filter(
    (fk) =>
      (fk.self && selfRef.has(fk.table)) ||
      (!fk.self && cycleOf.has(fk.table) && cycleOf.get(fk.table) === cycleOf.get(fk.refTable)),
  );
  const deferred: DeferredForeignKey[] = [];
  const refused: string[] = [];
  for (const fk of candidates) {
    const reason = await alterDeferrable(client, fk);
    if (reason === null) deferred.push(fk);
    else refused.push(`${fk.table}.${fk.name} (${reason})`);
  }
  const warnings =
    refused.length > 0
      ? [
          `foreign keys left checked row by row (checking them at the end of the load needs the table's owner): ${refused.join(', ')}`,
        ]
      : [];
  return { deferred, warnings };
}

/** ALTER … DEFERRABLE INITIALLY DEFERRED under a savepoint; null when done, else the refusal. */
export async function alterDeferrable(client: pg.Client, fk: DeferredForeignKey): Promise<string | null> {
  await client.query('savepoint replay_defer_fk');
  try {
    await client.query(
      `alter table ${fk.relation} alter constraint ${quoteIdent(fk.name)} deferrable initially deferred`,
    );
    await client.query('release savepoint replay_defer_fk');
    return null;
  } catch (err) {
    await client.query('rollback to savepoint replay_defer_fk');
    return describePgError(err);
  }
}

/**
 * Runs every deferred check now (Postgres' error names the constraint), then makes the foreign
 * keys `deferForeignKeys` altered NOT DEFERRABLE again, as they were.
 */
export async function restoreForeignKeys(
  client: pg.Client,
  deferred: readonly DeferredForeignKey[],
): Promise<void> {
  if (deferred.length === 0) return;
  await client.query('set constraints all immediate');
  for (const fk of deferred)
    await client.query(`alter table ${fk.relation} alter constraint ${quoteIdent(fk.name)} not deferrable`);
}
