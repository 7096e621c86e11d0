/**
 * `materializeCapsule`: load a capsule into the replay database, exactly and all-or-nothing.
 * What it does and guarantees for users: docs/materialize.md ("What it does (one transaction)",
 * "Integrity", "Subject rewrite", "Errors").
 *
 * One transaction: the graph goes into a temporary table; each capsule table's graph rows are
 * deleted with its `deletePredicate` in reverse load order; rows are inserted in load order
 * (COPY or jsonb_populate_recordset, see load-table.ts; referential-closure rows first, as
 * reference data with ON CONFLICT DO NOTHING, see closure-rows.ts); owned sequences are moved past the
 * loaded maximum; the graph's rows are counted (and content-hashed when the capsule has an
 * integrity record) and compared with the capsule; only then COMMIT. Any failure rolls back, and
 * a killed process leaves Postgres to roll back, so the target is never half-loaded.
 *
 * Cancellation (`signal`, Ctrl-C in the CLI): the running statement is cancelled
 * (pg_cancel_backend from a second connection; if that cannot connect, the session is closed and
 * the server rolls back), the transaction is rolled back and an InterruptedError says nothing was
 * loaded. Once COMMIT is sent the load completes. A lost connection (server restart,
 * pg_terminate_backend) is reported as such: the server rolled the transaction back.
 *
 * The phases, in order, each in phases/: capsule-source (index and check the capsule, before
 * connecting) → transaction (connect, BEGIN) → plan-target (prepareTarget, catalog, load order,
 * sequence snapshot) → prepare-session (triggers, deferred keys, graph table) → [explain, then
 * ROLLBACK] → delete-graph → load-tables → sequences → verify-load → COMMIT (transaction.ts,
 * which also rolls back on any failure) → result.
 *
 * Stage rules: no printing, no process.env; the CLI, the run loop and the Action call this.
 */

import { checkCapsuleSource, indexCapsuleToLoad, loadSettings } from './phases/capsule-source.js';
import { deleteGraph } from './phases/delete-graph.js';
import { explainAndRollBack } from './phases/explain.js';
import { loadTables } from './phases/load-tables.js';
import { planTarget } from './phases/plan-target.js';
import { prepareSession } from './phases/prepare-session.js';
import { committedResult } from './phases/result.js';
import { moveSequences } from './phases/sequences.js';
import { PhaseTimer } from './phases/timer.js';
import { LoadTransaction } from './phases/transaction.js';
import { verifyLoad } from './phases/verify-load.js';
import type { MaterializeOptions, MaterializeResult } from './types.js';

export type { LoadStrategy } from './load-table.js';
export { DEFAULT_CHUNK_SIZE, DEFAULT_STRATEGY } from './phases/capsule-source.js';
export { planMaterialization } from './plan.js';
export type {
  MaterializeOptions,
  MaterializeResult,
  PrepareTarget,
} from './types.js';

export async function materializeCapsule(options: MaterializeOptions): Promise<MaterializeResult> {
  const timer = new PhaseTimer();
  const settings = loadSettings(options);
  const capsule = await indexCapsuleToLoad(options);
  try {
    timer.mark('index');
    const source = checkCapsuleSource(options, capsule);
    const tx = await LoadTransaction.open(options, settings, source, timer);
    try {
      return await loadInTransaction(tx);
    } catch (err) {
      throw await tx.failed(err);
    } finally {
      await tx.close();
    }
  } finally {
    await capsule.close();
  }
}

/** The phases inside the transaction; any failure is rolled back by the caller. */
async function loadInTransaction(tx: LoadTransaction): Promise<MaterializeResult> {
  await tx.begin();
  const plan = await planTarget(tx);
  await prepareSession(tx, plan);
  if (tx.options.explain) return explainAndRollBack(tx, plan);
  const dependents = await deleteGraph(tx, plan);
  const loaded = await loadTables(tx, plan);
  const sequences = await moveSequences(tx, plan, loaded);
  const counts = await verifyLoad(tx, plan, loaded);
  await tx.commit();
  return committedResult(tx, plan, { dependents, loaded, sequences, counts });
}
