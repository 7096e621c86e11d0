/**
 * The load phase: every capsule table's rows inserted in load order (load-table.ts), a table's
 * referential-closure rows first (closure-rows.ts), then prepareTarget's `afterLoad`.
 */
import { FailureError } from '../../../errors.js';
import { type ReferenceKey, readReferenceKey, takeRows } from '../closure-rows.js';
import {
  loadTable,
  type ReferenceLoadResult,
  type TableLoadInput,
  type TableLoadResult,
} from '../load-table.js';
import { catalogName } from '../sql.js';
import type { MaterializeResult, TableLoadStats } from '../types.js';
import type { TargetPlan } from './plan-target.js';
import type { LoadTransaction } from './transaction.js';

/** Closure rows loaded as reference data into a table that existed before this load. */
export interface ReferenceLoad {
  key: ReferenceKey | null;
  result: ReferenceLoadResult;
}

export interface LoadedTables {
  tables: TableLoadStats[];
  /** Per table, the columns its content hash covers (null: capsule columns were not loaded). */
  hashColumns: Map<string, string[] | null>;
  references: Map<string, ReferenceLoad>;
  /** Whether content hashes are compared, and why not when they are not. */
  hashCheck: MaterializeResult['hashCheck'];
}

export async function loadTables(tx: LoadTransaction, plan: TargetPlan): Promise<LoadedTables> {
  const loaded: LoadedTables = {
    tables: [],
    hashColumns: new Map(),
    references: new Map(),
    hashCheck: hashCheckFor(tx),
  };
  for (const table of plan.loadOrder) {
    tx.checkpoint();
    tx.doing = `loading ${table}`;
    const t0 = performance.now();
    const result = await loadOneTable(tx, plan, table, loaded);
    recordTable(tx, table, result, performance.now() - t0, loaded);
    tx.timer.mark(`load:${table}`);
  }
  tx.timer.set(
    'load',
    loaded.tables.reduce((s, t) => s + t.ms, 0),
  );
  if (plan.afterLoad) {
    await plan.afterLoad();
    tx.timer.mark('afterLoad');
  }
  return loaded;
}

function hashCheckFor(tx: LoadTransaction): MaterializeResult['hashCheck'] {
  if (tx.options.verifyHashes === false) return 'disabled';
  if (!tx.source.capsule.header.integrity) return 'no-integrity-record';
  return tx.source.rewriter ? 'skipped-after-rewrite' : 'verified';
}

async function loadOneTable(
  tx: LoadTransaction,
  plan: TargetPlan,
  table: string,
  loaded: LoadedTables,
): Promise<TableLoadResult> {
  const { capsule, closureCounts } = tx.source;
  const { chunkSize } = tx.settings;
  const base = tableLoadInput(tx, plan, table);
  const closureRows = closureCounts.get(table) ?? 0;
  if (closureRows === 0 || plan.createdEmpty.has(table)) {
    // No closure rows, or a table --create-schema just created: nothing to conflict with.
    return loadTable({ ...base, batches: capsule.rows(table, chunkSize) });
  }
  const key = await readReferenceKey(tx.client, plan.schema, catalogName(table));
  const graphRows = capsule.counts[table]! - closureRows;
  // Closure rows first: they are the parents the table's graph rows point at (a
  // self-reference like referred_by or reply_to needs them in before a row that uses them).
  // They are the table's last rows, read from their own offset.
  const closure = await loadTable({
    ...base,
    batches: capsule.rows(table, chunkSize, graphRows),
    firstRow: graphRows,
    reference: {
      keyColumns: key?.columns ?? null,
      hash: loaded.hashCheck === 'verified' ? capsule.header.integrity!.algorithm : null,
    },
  });
  loaded.references.set(table, { key, result: closure.reference! });
  const graph =
    graphRows > 0
      ? await loadTable({ ...base, batches: takeRows(capsule.rows(table, chunkSize), graphRows) })
      : null;
  return graph ? mergeLoads(graph, closure) : closure;
}

function tableLoadInput(
  tx: LoadTransaction,
  plan: TargetPlan,
  table: string,
): Omit<TableLoadInput, 'batches'> {
  const { onProgress, signal } = tx.options;
  return {
    client: tx.client,
    table,
    signal,
    target: plan.targets.get(catalogName(table))!,
    strategy: tx.settings.strategy,
    chunkSize: tx.settings.chunkSize,
    rewriter: tx.source.rewriter,
    encodings: tx.source.encodings[table],
    serverError: () => tx.serverError(),
    onChunk: onProgress
      ? (info: { table: string; chunk: number; rowsLoaded: number }) => onProgress({ phase: 'load', ...info })
      : undefined,
  };
}

/** The table's checks, warnings, hash columns and timing. */
function recordTable(
  tx: LoadTransaction,
  table: string,
  result: TableLoadResult,
  ms: number,
  loaded: LoadedTables,
): void {
  const expected = tx.source.capsule.counts[table];
  if (result.rows !== expected) {
    throw new FailureError(
      `${tx.options.capsulePath}: tables.${table}: read ${result.rows} rows but the capsule index counted ${expected}; the file changed while loading?`,
    );
  }
  if (result.unknownColumns.length > 0)
    tx.warnings.push(
      `${table}: capsule columns the target does not have were not loaded: ${result.unknownColumns.join(', ')}`,
    );
  if (result.generatedColumns.length > 0)
    tx.warnings.push(
      `${table}: generated columns computed by Postgres, capsule values not loaded: ${result.generatedColumns.join(', ')}`,
    );
  if (result.strategy !== tx.settings.strategy)
    tx.warnings.push(`${table}: loaded with jsonb (composite-typed columns cannot be COPY text from JSON)`);
  loaded.hashColumns.set(
    table,
    result.unknownColumns.length > 0 ? null : [...result.columns, ...result.generatedColumns],
  );
  loaded.tables.push({
    table,
    rows: result.rows,
    ms: Math.round(ms),
    rowsPerSec: ms > 0 ? Math.round((result.rows * 1000) / ms) : result.rows,
    strategy: result.strategy,
  });
}

/** One table loaded in two parts (graph rows, then closure rows) as one result. */
function mergeLoads(a: TableLoadResult, b: TableLoadResult): TableLoadResult {
  const union = (x: string[], y: string[]) => [...new Set([...x, ...y])];
  return {
    rows: a.rows + b.rows,
    strategy: a.strategy === 'jsonb' || b.strategy === 'jsonb' ? 'jsonb' : a.strategy,
    columns: union(a.columns, b.columns),
    unknownColumns: union(a.unknownColumns, b.unknownColumns),
    generatedColumns: union(a.generatedColumns, b.generatedColumns),
    statements: a.statements + b.statements,
    reference: b.reference,
  };
}
