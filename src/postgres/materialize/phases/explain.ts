/**
 * `--explain`: EXPLAIN for every delete and insert the load would run, inside the transaction,
 * which is then rolled back (nothing is deleted or loaded).
 */
import type pg from 'pg';
import type { ManifestTable } from '../../../manifest/schema.js';
import { catalogName, copySql, deleteSql, jsonbInsertSql } from '../sql.js';
import type { TargetTable } from '../target-catalog.js';
import type { MaterializeResult } from '../types.js';
import type { TargetPlan } from './plan-target.js';
import type { LoadTransaction } from './transaction.js';

export async function explainAndRollBack(tx: LoadTransaction, plan: TargetPlan): Promise<MaterializeResult> {
  const explain = await explainStatements(
    tx.client,
    plan.loadOrder,
    plan.byName,
    plan.targets,
    tx.source.closureCounts,
  );
  await tx.rollBack();
  const { rewrite } = tx.source;
  return {
    status: 'explained',
    closure: null,
    dependents: [],
    strategy: tx.settings.strategy,
    reader: tx.source.capsule.layout,
    counts: [],
    phases: tx.timer.rounded(),
    tables: [],
    loadOrder: plan.loadOrder,
    rewritten: rewrite ? { ...rewrite, values: 0 } : null,
    hashCheck: 'disabled',
    sequences: [],
    warnings: tx.warnings,
    explain,
    durationMs: tx.timer.durationMs(),
  };
}

async function explainStatements(
  client: pg.Client,
  loadOrder: readonly string[],
  byName: ReadonlyMap<string, ManifestTable>,
  targets: ReadonlyMap<string, TargetTable>,
  closureCounts: ReadonlyMap<string, number>,
): Promise<{ statement: string; plan: string }[]> {
  const out: { statement: string; plan: string }[] = [];
  const explain = async (statement: string, params: unknown[] = []) => {
    const { rows } = await client.query<{ 'QUERY PLAN': string }>(`explain ${statement}`, params);
    out.push({ statement, plan: rows.map((r) => r['QUERY PLAN']).join('\n') });
  };
  for (const table of [...loadOrder].reverse())
    if (byName.has(table)) await explain(deleteSql(table, byName.get(table)!.deletePredicate!));
  for (const table of loadOrder) {
    const target = targets.get(catalogName(table))!;
    const cols = [...target.columns.values()].filter((c) => !c.generated);
    const overriding = cols.some((c) => c.identityAlways);
    const names = cols.map((c) => c.name);
    await explain(jsonbInsertSql(table, names, overriding), ['[]']);
    // Referential-closure rows: reference data, rows the target holds are kept.
    if (closureCounts.has(table)) await explain(jsonbInsertSql(table, names, overriding, true), ['[]']);
    out.push({
      statement: copySql(table, names),
      plan: '(COPY is not explainable; it appends rows without a plan)',
    });
  }
  return out;
}
