/**
 * Sequences are not transactional: `nextval` (a serial/identity default filling a row the capsule
 * left without a key) and `setval` (moving owned sequences past the loaded maximum) stay done when
 * the load's transaction rolls back. So materialize records every sequence owned by a loaded
 * table's column before it changes anything and, when the load fails or is interrupted, sets them
 * back after the rollback. (A killed client, or a lost connection, cannot: there the sequences may
 * have moved forward — never backward, so no key is ever reused.)
 */
import type pg from 'pg';
import type { TargetTable } from './target-catalog.js';

export interface SequenceState {
  sequence: string;
  lastValue: string;
  isCalled: boolean;
}

/** The owned sequences of `tables`' columns, as they are now. */
export async function snapshotSequences(
  client: pg.Client,
  tables: Iterable<TargetTable>,
): Promise<SequenceState[]> {
  const names = new Set<string>();
  for (const t of tables) for (const c of t.columns.values()) if (c.sequence) names.add(c.sequence);
  const out: SequenceState[] = [];
  for (const sequence of names) {
    const { rows } = await client.query<{ v: string; c: boolean }>(
      `select last_value::text as v, is_called as c from ${sequence}`,
    );
    out.push({ sequence, lastValue: rows[0]!.v, isCalled: rows[0]!.c });
  }
  return out;
}

/** Sets the sequences back (after ROLLBACK, outside a transaction). Best effort: never throws. */
export async function restoreSequences(client: pg.Client, states: readonly SequenceState[]): Promise<void> {
  for (const s of states)
    await client
      .query('select setval($1::regclass, $2::bigint, $3)', [s.sequence, s.lastValue, s.isCalled])
      .catch(() => {});
}
