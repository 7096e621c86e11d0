/**
 * The verify phase, before COMMIT (docs/materialize.md, "Integrity"): per table, the graph's rows
 * in the target are counted with its deletePredicate (a table --create-schema created, or one only
 * referential closure added, is checked whole) and, when the capsule has an integrity record,
 * content-hashed (verify.ts); closure rows are looked up by key (closure-rows.ts). Any difference
 * fails the load, so the transaction is rolled back.
 */
import { FailureError } from '../../../errors.js';
import { verifyClosureTable } from '../closure-rows.js';
import type { TableCount } from '../types.js';
import { countGraphRows, hashGraphRows } from '../verify.js';
import type { LoadedTables, ReferenceLoad } from './load-tables.js';
import type { TargetPlan } from './plan-target.js';
import type { LoadTransaction } from './transaction.js';

/** The exporter renders rows with these settings; hashes compare the same text forms. */
const VERIFY_SETTINGS =
  "set local timezone = 'UTC'; set local datestyle = 'ISO, MDY'; set local intervalstyle = 'postgres'; set local bytea_output = 'hex'; set local extra_float_digits = 1";

/** One table's check: what the capsule holds and how the target's rows are selected. */
interface TableCheck {
  table: string;
  /** Declared in the manifest (has a deletePredicate). */
  declared: boolean;
  /** Created empty by --create-schema. */
  created: boolean;
  /** The rows of the graph: the deletePredicate, or `true` for a table checked whole. */
  predicate: string;
  expected: number;
  closureRows: number;
  /** The recorded content hash, when it is compared (null: not compared). */
  hash: { recorded: string; columns: string[] } | null;
}

export async function verifyLoad(
  tx: LoadTransaction,
  plan: TargetPlan,
  loaded: LoadedTables,
): Promise<TableCount[]> {
  const counts: TableCount[] = [];
  const problems: string[] = [];
  if (loaded.hashCheck === 'verified') await tx.client.query(VERIFY_SETTINGS);
  for (const table of plan.loadOrder) {
    tx.checkpoint();
    tx.doing = `verifying ${table}`;
    await tx.options.onProgress?.({ phase: 'verify', table });
    const check = tableCheck(tx, plan, loaded, table);
    const reference = loaded.references.get(table);
    if (reference?.key) counts.push(await verifyClosureKeys(tx, check, reference, problems));
    else if (reference || (!check.declared && !check.created))
      counts.push(await verifyCountRange(tx, check, problems));
    else counts.push(await verifyGraphRows(tx, check, problems));
  }
  tx.timer.mark('verify');
  if (problems.length > 0) {
    throw new FailureError(
      `${tx.options.capsulePath}: materialization integrity check failed:\n${problems.map((p) => `  ${p}`).join('\n')}\n(rows that do not match their table's deletePredicate would not be replaced by the next materialize; the transaction was rolled back and the target is unchanged)`,
    );
  }
  return counts;
}

function tableCheck(tx: LoadTransaction, plan: TargetPlan, loaded: LoadedTables, table: string): TableCheck {
  const { capsule, closureCounts } = tx.source;
  const spec = plan.byName.get(table);
  const created = plan.createdEmpty.has(table);
  const recorded = capsule.header.integrity?.tables[table];
  const columns = loaded.hashColumns.get(table);
  return {
    table,
    declared: spec !== undefined,
    created,
    predicate: created || !spec ? 'true' : spec.deletePredicate!,
    expected: capsule.counts[table]!,
    closureRows: closureCounts.get(table) ?? 0,
    hash:
      loaded.hashCheck === 'verified' && recorded && columns ? { recorded: recorded.sha256, columns } : null,
  };
}

/**
 * Closure rows into a table that existed: graph rows checked as always (closure keys excluded),
 * every closure row's key must be present (kept or inserted).
 */
async function verifyClosureKeys(
  tx: LoadTransaction,
  c: TableCheck,
  reference: ReferenceLoad,
  problems: string[],
): Promise<TableCount> {
  const key = reference.key!;
  const { integrity } = tx.source.capsule.header;
  const check = await verifyClosureTable(tx.client, {
    table: c.table,
    predicate: c.declared ? c.predicate : null,
    expected: c.expected,
    closureRows: c.closureRows,
    key,
    keys: reference.result.keys,
    inserted: reference.result.inserted,
    hash:
      c.hash && reference.result.hash
        ? {
            recorded: c.hash.recorded,
            columns: c.hash.columns,
            closure: reference.result.hash,
            algorithm: integrity!.algorithm,
            encodings: tx.source.encodings[c.table],
          }
        : null,
  });
  problems.push(...check.problems);
  if (check.keysWithNull > 0)
    tx.warnings.push(
      `${c.table}: ${check.keysWithNull} referential-closure rows have a NULL in their key (${key.columns.join(', ')}; redacted?) and could not be looked up in the target`,
    );
  return { table: c.table, capsule: c.expected, database: check.database, hashMatch: check.hashMatch };
}

/**
 * No key to look closure rows up by (the target table has no primary key or unique index): some
 * closure rows may not match the deletePredicate, and a closure-only table may hold other rows;
 * count a range and skip the hash.
 */
async function verifyCountRange(tx: LoadTransaction, c: TableCheck, problems: string[]): Promise<TableCount> {
  const database = await countGraphRows(tx.client, c.table, c.predicate);
  const low = c.declared ? c.expected - c.closureRows : c.expected;
  const ok = c.declared ? database >= low && database <= c.expected : database >= c.expected;
  if (!ok)
    problems.push(
      `${c.table}: capsule has ${c.expected} rows (${c.closureRows} added by referential closure), the target has ${database} matching rows`,
    );
  return { table: c.table, capsule: c.expected, database: ok ? c.expected : database, hashMatch: null };
}

/** The graph's rows counted and, with an integrity record, content-hashed (one scan for both). */
async function verifyGraphRows(tx: LoadTransaction, c: TableCheck, problems: string[]): Promise<TableCount> {
  const { table, predicate, expected } = c;
  const algorithm = tx.source.capsule.header.integrity?.algorithm;
  const hashed = c.hash
    ? await hashGraphRows(tx.client, table, predicate, c.hash.columns, algorithm!, tx.source.encodings[table])
    : null;
  const database = hashed ? hashed.rows : await countGraphRows(tx.client, table, predicate);
  let hashMatch: boolean | null = null;
  if (hashed && c.hash) {
    hashMatch = hashed.sha256 === c.hash.recorded;
    if (!hashMatch && database === expected)
      problems.push(`${table}: the loaded rows' content hash differs from the capsule's integrity record`);
  }
  if (database !== expected)
    problems.push(
      `${table}: capsule has ${expected} rows, the target has ${database} rows matching its deletePredicate`,
    );
  return { table, capsule: expected, database, hashMatch };
}
