/** The delete phase in the transaction (the deletes themselves: delete-phase.ts). */
import { type DependentDelete, deleteGraphRows } from '../delete-phase.js';
import type { TargetPlan } from './plan-target.js';
import type { LoadTransaction } from './transaction.js';

export async function deleteGraph(tx: LoadTransaction, plan: TargetPlan): Promise<DependentDelete[]> {
  const { options } = tx;
  tx.doing = "deleting the graph's rows";
  const dependents = await deleteGraphRows({
    client: tx.client,
    schema: plan.schema,
    loadOrder: plan.loadOrder,
    byName: plan.byName,
    deferred: tx.deferredKeys,
    deleteDependents: options.deleteDependents === true,
    onTable: async (table) => {
      tx.checkpoint();
      tx.doing = `deleting the graph's rows from ${table}`;
      await options.onProgress?.({ phase: 'delete', table });
    },
  });
  for (const d of dependents)
    tx.warnings.push(
      `--delete-dependents: deleted ${d.rows} row${d.rows === 1 ? '' : 's'} of undeclared table ${d.table} referencing ${d.references} (${d.constraint})`,
    );
  tx.timer.mark('delete');
  return dependents;
}
