/** The result of a committed load (materialize-capsule.ts; the trace's `materialization`). */
import type { DependentDelete } from '../delete-phase.js';
import type { ClosureLoadReport, MaterializeResult, TableCount } from '../types.js';
import type { LoadedTables, ReferenceLoad } from './load-tables.js';
import type { TargetPlan } from './plan-target.js';
import type { LoadTransaction } from './transaction.js';

interface CommittedLoad {
  dependents: DependentDelete[];
  loaded: LoadedTables;
  sequences: { sequence: string; value: string }[];
  counts: TableCount[];
}

export function committedResult(
  tx: LoadTransaction,
  plan: TargetPlan,
  load: CommittedLoad,
): MaterializeResult {
  const { rewrite, rewriter } = tx.source;
  return {
    status: 'ok',
    closure: closureReport(tx.source.closureCounts, load.loaded.references, plan.createdEmpty),
    dependents: load.dependents,
    strategy: tx.settings.strategy,
    reader: tx.source.capsule.layout,
    counts: load.counts,
    phases: tx.timer.rounded(),
    tables: load.loaded.tables,
    loadOrder: plan.loadOrder,
    rewritten: rewrite ? { ...rewrite, values: rewriter!.replaced } : null,
    hashCheck: load.loaded.hashCheck,
    sequences: load.sequences,
    warnings: tx.warnings,
    durationMs: tx.timer.durationMs(),
  };
}

function closureReport(
  closureCounts: ReadonlyMap<string, number>,
  references: ReadonlyMap<string, ReferenceLoad>,
  createdEmpty: ReadonlySet<string>,
): ClosureLoadReport | null {
  if (closureCounts.size === 0) return null;
  const tables: ClosureLoadReport['tables'] = [];
  for (const [table, rows] of closureCounts) {
    const ref = references.get(table);
    tables.push({
      table,
      rows,
      alreadyPresent: ref ? rows - ref.result.inserted : 0,
      check: createdEmpty.has(table) || !ref ? 'whole-table' : ref.key ? 'key' : 'no-key',
    });
  }
  return {
    rows: tables.reduce((s, t) => s + t.rows, 0),
    alreadyPresent: tables.reduce((s, t) => s + t.alreadyPresent, 0),
    tables,
  };
}
