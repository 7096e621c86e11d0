/**
 * Owned sequences (serial/identity) of loaded columns are moved to at least the loaded maximum,
 * so the app can insert new rows without key collisions. (Sequences are not transactional: the
 * snapshot taken before the load sets them back when it fails, sequence-snapshot.ts.)
 */
import type pg from 'pg';
import { quoteIdent } from '../../../util/sql-names.js';
import { catalogName, tableSql } from '../sql.js';
import type { TargetTable } from '../target-catalog.js';
import type { LoadedTables } from './load-tables.js';
import type { TargetPlan } from './plan-target.js';
import type { LoadTransaction } from './transaction.js';

export async function moveSequences(
  tx: LoadTransaction,
  plan: TargetPlan,
  loaded: LoadedTables,
): Promise<{ sequence: string; value: string }[]> {
  tx.checkpoint();
  tx.doing = 'moving sequences';
  const sequences = await bumpSequences(tx.client, plan.loadOrder, plan.targets, loaded.hashColumns);
  tx.timer.mark('sequences');
  return sequences;
}

async function bumpSequences(
  client: pg.Client,
  tables: readonly string[],
  targets: ReadonlyMap<string, TargetTable>,
  loadedColumns: Map<string, string[] | null>,
): Promise<{ sequence: string; value: string }[]> {
  const out: { sequence: string; value: string }[] = [];
  for (const table of tables) {
    const target = targets.get(catalogName(table))!;
    const loaded = new Set(loadedColumns.get(table) ?? [...target.columns.keys()]);
    for (const col of target.columns.values()) {
      if (!col.sequence || !loaded.has(col.name)) continue;
      const { rows } = await client.query<{ v: string | null }>(
        `select setval($1::regclass, x.m, true)::text as v
           from (select max(${quoteIdent(col.name)})::bigint as m from ${tableSql(table)}) x,
                (select last_value, is_called from ${col.sequence}) s
          where x.m is not null and x.m >= s.last_value + (case when s.is_called then 1 else 0 end)`,
        [col.sequence],
      );
      if (rows[0]?.v) out.push({ sequence: col.sequence, value: rows[0].v });
    }
  }
  return out;
}
