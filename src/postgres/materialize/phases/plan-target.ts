/**
 * The first phase in the transaction: the target is prepared (`prepareTarget`: --create-schema
 * creates the capsule's tables here), its catalog read, the load order planned (load-plan.ts) and
 * the owned sequences recorded (sequence-snapshot.ts).
 */

import { FailureError } from '../../../errors.js';
import type { ManifestTable } from '../../../manifest/schema.js';
import { type ForeignKey, readForeignKeys } from '../../catalog.js';
import { closureOnlyTables } from '../closure-rows.js';
import { type LoadCycle, materializeOrder, planLoad, schemaSectionForeignKeys } from '../load-plan.js';
import { snapshotSequences } from '../sequence-snapshot.js';
import { catalogName } from '../sql.js';
import { readTargetTables, type TargetTable } from '../target-catalog.js';
import type { LoadTransaction } from './transaction.js';

export interface TargetPlan {
  /** The target's current schema (where the tables are). */
  schema: string;
  /** The capsule's tables in the target, by catalog name. */
  targets: Map<string, TargetTable>;
  /** The manifest's declared tables, by name. */
  byName: Map<string, ManifestTable>;
  /** Capsule tables, parents first. */
  loadOrder: string[];
  cycles: LoadCycle[];
  /**
   * Tables created empty by prepareTarget (--create-schema): verified whole, every row (closure
   * rows included) must be exactly the capsule's.
   */
  createdEmpty: Set<string>;
  /** prepareTarget's hook after the rows are in (--create-schema adds constraints and indexes). */
  afterLoad?: () => Promise<void>;
}

export async function planTarget(tx: LoadTransaction): Promise<TargetPlan> {
  const { client, options, source } = tx;
  tx.doing = 'preparing the target';
  const prepared = options.prepareTarget
    ? await options.prepareTarget(client, source.capsule.header)
    : undefined;
  const schema = (await client.query<{ s: string }>('select current_schema() as s')).rows[0]!.s;
  const foreignKeys = await readForeignKeys(client, schema);
  const targets = await readTargetTables(client, schema, source.tables.map(catalogName));
  const missing = source.tables.filter((t) => !targets.has(catalogName(t)));
  if (missing.length > 0) {
    throw new FailureError(
      `the replay target has no table ${missing.join(', ')} (schema ${schema}): apply the app's migrations to it first (the manifest's "setup" commands), or create the tables from the schema the capsule carries with --create-schema (the Action: create-schema: true)`,
    );
  }
  const created = prepared?.createdTables ?? [];
  const planned = orderTables(tx, foreignKeys, created.length > 0);
  tx.warnings.push(...planned.warnings);
  // Sequences move outside the transaction: recorded to be set back if the load fails.
  tx.sequenceStates = await snapshotSequences(client, targets.values());
  tx.timer.mark('catalog');
  return {
    schema,
    targets,
    byName: new Map(options.manifest.postgres.tables.map((t) => [t.name, t])),
    loadOrder: planned.order,
    cycles: planned.cycles,
    createdEmpty: new Set(created),
    afterLoad: prepared?.afterLoad,
  };
}

/**
 * One plan over declared and closure-only tables, parents first (load-plan.ts); tables only
 * closure added have no deletePredicate (see closureOnlyTables).
 */
function orderTables(tx: LoadTransaction, foreignKeys: ForeignKey[], createdTables: boolean) {
  const { manifest } = tx.options;
  const { capsule, tables } = tx.source;
  const closureOnly = closureOnlyTables(manifest, capsule.header, tables);
  // Tables --create-schema just created have no foreign keys yet: plan with the schema
  // section's, so both targets load in the same order (they are added after the rows, so no
  // cycle among them blocks the load).
  const planKeys = createdTables
    ? [
        ...foreignKeys,
        ...schemaSectionForeignKeys(capsule.header.schema).map((fk) => ({ ...fk, deferrable: true })),
      ]
    : foreignKeys;
  return materializeOrder(planLoad({ manifest, closureOnly, foreignKeys: planKeys }), tables, capsule.counts);
}
