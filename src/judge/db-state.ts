/**
 * The database-state judge: what the probes (and the app) wrote to the replay database, from the
 * trace's `databaseState` (db-records.ts).
 *
 * - Any write to rows outside the subject's graph (inserted, updated or deleted, ignored columns
 *   and tables left out) fails: it is its own risk class, `write_outside_subject` (a cross-tenant
 *   write), blocked by the default policy.
 * - Against the golden's `database` records (same capsule only): a table the probes changed
 *   differently (changed or not, net rows, rows written) fails; the same counts with other content
 *   warns. Paths the golden learned as noise are not compared.
 *
 * Evidence names tables and counts, never values (digests are not shown either).
 */
import { disabled, type JudgeInput, titleOf } from './context.js';
import {
  COMPARED,
  type ComparedField,
  comparedValue,
  coveredByNoise,
  type DbRecords,
  type DbSideRecord,
  type DbTableRecord,
  databaseRecords,
  dbNoisePath,
  SIDES,
  type Side,
  touchedRows,
} from './db-records.js';
import type { DatabaseChange, DatabaseSummary, JudgeResult } from './schema.js';

export interface DbStateJudgement {
  result: JudgeResult;
  /** The judgement's `database` section (absent when nothing was recorded). */
  summary?: DatabaseSummary;
  /** Rows outside the subject's graph the run wrote or deleted (all tables). */
  outsideRows: number;
  /** A table changed differently than in the golden run. */
  differsFromGolden: boolean;
  /** Only the content differs from the golden's (same counts). */
  contentDiffers: boolean;
}

const ID = 'database-state';
const SIDE_LABEL: Record<Side, string> = { inGraph: "subject's graph", outside: 'outside the graph' };

type GoldenVerdict = NonNullable<DatabaseChange['golden']>;

function counts(s: DbSideRecord): string {
  return `${s.rows} → ${s.after} rows, ${s.written} written`;
}

/** How a table's change compares with the golden's, noise paths left out. */
function compareTable(
  table: string,
  actual: DbTableRecord,
  golden: DbTableRecord | undefined,
  noise: readonly string[],
): GoldenVerdict {
  if (!golden) return SIDES.some((s) => actual[s].changed) ? 'differs' : 'same';
  let verdict: GoldenVerdict = 'same';
  for (const s of SIDES) {
    const fields = COMPARED.filter(
      (f: ComparedField) =>
        !coveredByNoise(noise, dbNoisePath(table, s, f)) &&
        comparedValue(actual[s], f) !== comparedValue(golden[s], f),
    );
    if (fields.some((f) => f !== 'end')) return 'differs';
    // Other content is only comparable from the same starting rows.
    if (fields.includes('end') && actual[s].start === golden[s].start) verdict = 'content-differs';
  }
  return verdict;
}

function publicSide(s: DbSideRecord) {
  return { rows: s.rows, after: s.after, written: s.written };
}

function changeOf(
  table: string,
  actual: DbTableRecord,
  golden: { records: DbRecords; noise: readonly string[] } | null,
): DatabaseChange {
  const g = golden?.records[table];
  return {
    table,
    inGraph: publicSide(actual.inGraph),
    outside: publicSide(actual.outside),
    outsideWrite: touchedRows(actual.outside),
    ...(golden ? { golden: compareTable(table, actual, g, golden.noise) } : {}),
    ...(g ? { goldenCounts: { inGraph: publicSide(g.inGraph), outside: publicSide(g.outside) } } : {}),
  };
}

function evidenceOf(changes: DatabaseChange[], records: DbRecords): string[] {
  const out: string[] = [];
  for (const c of changes) {
    const r = records[c.table]!;
    if (c.outsideWrite > 0)
      out.push(
        `write outside the subject's graph: ${c.table}: ${c.outsideWrite} row(s) (${counts(r.outside)})`,
      );
    for (const s of SIDES)
      if (r[s].changed && !(s === 'outside' && c.outsideWrite > 0))
        out.push(`${c.table} (${SIDE_LABEL[s]}): ${counts(r[s])}`);
    if (c.golden === 'differs')
      out.push(
        `differs from the golden: ${c.table}: ${c.goldenCounts ? SIDES.map((s) => `${SIDE_LABEL[s]} ${c.goldenCounts![s].rows} → ${c.goldenCounts![s].after} rows, ${c.goldenCounts![s].written} written`).join('; ') : 'unchanged'} in the golden run`,
      );
    if (c.golden === 'content-differs')
      out.push(`content differs from the golden: ${c.table}: the same counts, other values`);
  }
  return out;
}

function verdictOf(outsideRows: number, changes: DatabaseChange[]): Pick<JudgeResult, 'verdict' | 'summary'> {
  const outsideTables = changes.filter((c) => c.outsideWrite > 0).map((c) => c.table);
  if (outsideRows > 0)
    return {
      verdict: 'fail',
      summary: `the run wrote ${outsideRows} row(s) outside the subject's graph (${outsideTables.join(', ')})`,
    };
  const differs = changes.filter((c) => c.golden === 'differs').map((c) => c.table);
  if (differs.length)
    return {
      verdict: 'fail',
      summary: `the database changes differ from the golden's (${differs.join(', ')})`,
    };
  const content = changes.filter((c) => c.golden === 'content-differs').map((c) => c.table);
  if (content.length)
    return {
      verdict: 'warn',
      summary: `the same changes as the golden's, other content (${content.join(', ')})`,
    };
  const changed = changes.filter((c) => c.inGraph.rows !== c.inGraph.after || c.inGraph.written > 0);
  return {
    verdict: 'pass',
    summary: changes.length
      ? `the run changed ${changes.length} table(s) of the subject's graph only${changed.length && changes.some((c) => c.golden) ? ', as in the golden run' : ''}`
      : 'the run changed no table',
  };
}

export function judgeDatabaseState(
  input: JudgeInput,
  options: { capsuleDiffers?: boolean } = {},
): DbStateJudgement {
  const none = { outsideRows: 0, differsFromGolden: false, contentDiffers: false };
  const off = disabled(input, ID);
  if (off) return { result: off, ...none };
  const title = titleOf(input, ID);
  const state = input.trace.databaseState;
  if (!state)
    return {
      result: { id: ID, title, verdict: 'skip', summary: 'the trace has no database state', evidence: [] },
      ...none,
    };
  const ignored = { ignoredTables: state.ignoredTables, ignoredColumns: state.ignoredColumns };
  const records = databaseRecords(state);
  if (!records)
    return {
      result: {
        id: ID,
        title,
        verdict: 'warn',
        summary: 'the database state could not be recorded (see the trace)',
        evidence: [],
      },
      summary: { recorded: false, tables: [], unchanged: 0, ...ignored },
      ...none,
    };
  const g = options.capsuleDiffers ? undefined : input.golden?.golden;
  const golden = g?.database ? { records: g.database, noise: g.noise } : null;
  const all = Object.keys(records).map((t) => changeOf(t, records[t]!, golden));
  const changes = all.filter(
    (c) => (c.golden !== undefined && c.golden !== 'same') || SIDES.some((s) => records[c.table]![s].changed),
  );
  const outsideRows = changes.reduce((n, c) => n + c.outsideWrite, 0);
  const notes = [
    ...(state.ignoredTables.length ? [`ignored tables: ${state.ignoredTables.join(', ')}`] : []),
    ...(state.ignoredColumns.length ? [`ignored columns: ${state.ignoredColumns.join(', ')}`] : []),
    ...(g && !g.database ? ['the golden has no database records (bless again to compare)'] : []),
  ];
  return {
    result: {
      id: ID,
      title,
      ...verdictOf(outsideRows, changes),
      evidence: [...evidenceOf(changes, records), ...notes],
    },
    summary: { recorded: true, tables: changes, unchanged: all.length - changes.length, ...ignored },
    outsideRows,
    differsFromGolden: changes.some((c) => c.golden === 'differs'),
    contentDiffers: changes.some((c) => c.golden === 'content-differs'),
  };
}
