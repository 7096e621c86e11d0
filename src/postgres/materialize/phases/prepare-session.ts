/**
 * The session set up for the load: triggers off when asked (--disable-triggers), deferrable
 * constraints deferred to COMMIT, the foreign keys the load must check at its end made deferrable
 * (defer-fks.ts), and the subject graph in its temporary table for the deletes and the checks.
 */
import { FailureError } from '../../../errors.js';
import { describePgError } from '../../connect.js';
import { deferForeignKeys } from '../defer-fks.js';
import { checkCycles } from '../load-plan.js';
import { createGraphSql, GRAPH_TABLE, insertGraphSql } from '../sql.js';
import type { TargetPlan } from './plan-target.js';
import type { LoadTransaction } from './transaction.js';

export async function prepareSession(tx: LoadTransaction, plan: TargetPlan): Promise<void> {
  const { client, options } = tx;
  if (options.disableTriggers) await disableTriggers(tx);
  // Deferrable constraints (cycles, self-references across chunks) are checked at COMMIT.
  await client.query('set constraints all deferred');
  // Self-references of tables holding closure and graph rows, and FK cycles: their foreign
  // keys are checked at the end of the load (defer-fks.ts); restored before COMMIT.
  const deferral = options.disableTriggers
    ? { deferred: [], warnings: [] }
    : await deferForeignKeys(client, {
        schema: plan.schema,
        tables: plan.loadOrder,
        selfRefTables: [...tx.source.closureCounts.keys()],
        cycles: plan.cycles.map((c) => c.tables),
      });
  tx.deferredKeys = deferral.deferred;
  tx.warnings.push(
    ...deferral.warnings,
    ...checkCycles(plan.cycles, new Set(deferral.deferred.map((d) => d.name)), options),
  );
  await createGraphTable(tx);
  tx.timer.mark('graph');
}

async function disableTriggers(tx: LoadTransaction): Promise<void> {
  try {
    await tx.client.query('set local session_replication_role = replica');
  } catch (err) {
    throw new FailureError(
      `--disable-triggers needs a superuser (or a role allowed to SET session_replication_role); the server refused: ${describePgError(err)}`,
      { cause: err },
    );
  }
}

async function createGraphTable(tx: LoadTransaction): Promise<void> {
  const { client } = tx;
  const subjectKeys = tx.options.manifest.subjectKeys;
  await client.query(createGraphSql(subjectKeys));
  await client.query(insertGraphSql(subjectKeys), [JSON.stringify(tx.source.graph)]);
  // Temporary tables are never auto-analyzed; without statistics the deletes and the
  // verification join are planned for a 1-row-per-page guess.
  await client.query(`analyze ${GRAPH_TABLE}`);
}
