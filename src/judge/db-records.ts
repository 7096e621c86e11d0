/**
 * What the probes did to the database, per table, from a trace's `databaseState`: for the
 * subject's graph and for the rows outside it, the rows after materialize and after the probes,
 * the rows written, whether anything judged changed (a count or a digest: ignored columns and
 * tables are already left out), and the two digests. A golden keeps these records (`database`) so
 * the next run is expected to make the same changes; two runs of one build that differ learn
 * noise paths `$.database.<table>.<inGraph|outside>.<field>`, as probe outputs do.
 */
import { z } from 'zod';
import type { DatabaseState, DbStateSnapshotRecord, Trace } from '../trace/schema.js';

const dbSideRecordSchema = z.object({
  /** Rows right after materialize. */
  rows: z.number().int().nonnegative(),
  /** Rows after the probes. */
  after: z.number().int().nonnegative(),
  /** Rows inserted or updated by the run (after materialize). */
  written: z.number().int().nonnegative(),
  /** A count or a digest changed. */
  changed: z.boolean(),
  /** Digests after materialize and after the probes (no value can be read from them). */
  start: z.string(),
  end: z.string(),
});

const dbTableRecordSchema = z.object({ inGraph: dbSideRecordSchema, outside: dbSideRecordSchema });
export const dbRecordsSchema = z.record(z.string(), dbTableRecordSchema);

export type DbSideRecord = z.infer<typeof dbSideRecordSchema>;
export type DbTableRecord = z.infer<typeof dbTableRecordSchema>;
export type DbRecords = z.infer<typeof dbRecordsSchema>;

export const SIDES = ['inGraph', 'outside'] as const;
export type Side = (typeof SIDES)[number];

function side(before: DbStateSnapshotRecord[Side], after: DbStateSnapshotRecord[Side]): DbSideRecord {
  return {
    rows: before.rows,
    after: after.rows,
    written: after.written ?? 0,
    changed: before.rows !== after.rows || before.digest !== after.digest,
    start: before.digest,
    end: after.digest,
  };
}

/** Records of the tables both snapshots saw; null when the trace has no complete database state. */
export function databaseRecords(state: DatabaseState | undefined): DbRecords | null {
  if (!state || state.error) return null;
  const out: DbRecords = {};
  for (const t of state.tables) {
    const a = t.afterProbes;
    if (!a || a.missing || t.afterMaterialize.missing) continue;
    out[t.table] = {
      inGraph: side(t.afterMaterialize.inGraph, a.inGraph),
      outside: side(t.afterMaterialize.outside, a.outside),
    };
  }
  return out;
}

/**
 * Rows a changed side touched, as far as counts tell: the rows written, plus the rows deleted
 * beyond them (at least 1 when a digest alone changed).
 */
export function touchedRows(s: DbSideRecord): number {
  if (!s.changed) return 0;
  return Math.max(1, s.written + Math.max(0, s.rows - s.after));
}

/** The compared fields of a side: what "the same changes" means. */
export const COMPARED = ['changed', 'delta', 'written', 'end'] as const;
export type ComparedField = (typeof COMPARED)[number];

export function comparedValue(s: DbSideRecord, f: ComparedField): string {
  if (f === 'delta') return String(s.after - s.rows);
  return String(s[f]);
}

export function dbNoisePath(table: string, s: Side, f: ComparedField): string {
  return `$.database.${table}.${s}.${f}`;
}

/** Noise from two runs of one build: every compared field that differs between them. */
export function databaseNoise(a: Trace, b: Trace): string[] {
  const ra = databaseRecords(a.databaseState);
  const rb = databaseRecords(b.databaseState);
  if (!ra || !rb) return [];
  const out: string[] = [];
  for (const table of Object.keys(ra).sort()) {
    const tb = rb[table];
    if (!tb) continue;
    for (const s of SIDES)
      for (const f of COMPARED)
        if (comparedValue(ra[table]![s], f) !== comparedValue(tb[s], f)) out.push(dbNoisePath(table, s, f));
  }
  return out;
}

/** A noise entry covers a path when it is the path or one of its parents. */
export function coveredByNoise(noise: readonly string[], path: string): boolean {
  return noise.some((n) => path === n || path.startsWith(`${n}.`));
}
