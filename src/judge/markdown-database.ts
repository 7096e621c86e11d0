/**
 * The "Database changes" section of the judgement Markdown (markdown.ts) and its terminal lines:
 * per table the run changed, the rows of the subject's graph and outside it (after materialize →
 * after the run, rows written), writes outside the graph flagged, and how it compares with the
 * golden run. Table and column names are escaped; there are no values to show (counts only).
 */
import { mdCode } from '../util/markdown-escape.js';
import type { DatabaseChange, DatabaseSummary } from './schema.js';

type Counts = DatabaseChange['inGraph'];

function side(c: Counts): string {
  if (c.rows === c.after && c.written === 0) return 'unchanged';
  return `${c.rows} → ${c.after} rows, ${c.written} written`;
}

const GOLDEN: Record<NonNullable<DatabaseChange['golden']>, string> = {
  same: 'same',
  differs: '❌ differs',
  'content-differs': '⚠️ other content',
};

function outsideCell(c: DatabaseChange): string {
  if (c.outsideWrite === 0) return side(c.outside);
  return `⛔ ${side(c.outside)} (**${c.outsideWrite} row(s) outside the subject's graph**)`;
}

function ignoredNote(db: DatabaseSummary): string {
  const parts = [
    db.ignoredTables.length ? `tables ${db.ignoredTables.map((t) => mdCode(t, 60)).join(', ')}` : '',
    db.ignoredColumns.length ? `columns ${db.ignoredColumns.map((c) => mdCode(c, 60)).join(', ')}` : '',
  ].filter(Boolean);
  return parts.length ? ` · ignored: ${parts.join('; ')}` : '';
}

/** The section's lines (empty when the judgement has no database summary); `maxRows` tables at most. */
export function databaseMarkdown(
  db: DatabaseSummary | undefined,
  heading: string,
  maxRows: number,
): string[] {
  if (!db) return [];
  if (!db.recorded)
    return [
      `${heading} Database changes`,
      '',
      '_The database state could not be recorded (see the trace)._',
      '',
    ];
  const outside = db.tables.reduce((n, c) => n + c.outsideWrite, 0);
  const head = `${heading} Database changes (${db.tables.length} table(s)${outside ? `; ⛔ ${outside} row(s) written outside the subject's graph` : ''})`;
  if (db.tables.length === 0)
    return [head, '', `No table changed (${db.unchanged} recorded)${ignoredNote(db)}.`, ''];
  const withGolden = db.tables.some((c) => c.golden !== undefined);
  const lines = [
    head,
    '',
    `| Table | Subject's graph | Outside the graph |${withGolden ? ' Golden run |' : ''}`,
    `| --- | --- | --- |${withGolden ? ' --- |' : ''}`,
  ];
  const shown = [...db.tables].sort((a, b) => b.outsideWrite - a.outsideWrite).slice(0, maxRows);
  for (const c of shown)
    lines.push(
      `| ${mdCode(c.table, 60)} | ${side(c.inGraph)} | ${outsideCell(c)} |${withGolden ? ` ${c.golden ? GOLDEN[c.golden] : '—'} |` : ''}`,
    );
  const more = db.tables.length - shown.length;
  lines.push(
    '',
    `_${more ? `… and ${more} more changed table(s); ` : ''}${db.unchanged} table(s) unchanged${ignoredNote(db)}._`,
    '',
  );
  return lines;
}

/** Terminal lines: the changed tables with their counts. */
export function databaseText(db: DatabaseSummary | undefined): string[] {
  if (!db) return [];
  if (!db.recorded) return ['database changes: could not be recorded (see the trace)'];
  if (db.tables.length === 0) return [`database changes: none (${db.unchanged} table(s) recorded)`];
  return [
    `database changes (${db.tables.length} table(s)):`,
    ...db.tables.map(
      (c) =>
        `  ${c.table}: subject's graph ${side(c.inGraph)}; outside ${side(c.outside)}${c.outsideWrite ? ` — WRITE OUTSIDE THE SUBJECT'S GRAPH (${c.outsideWrite} row(s))` : ''}${c.golden && c.golden !== 'same' ? ` — ${c.golden} from the golden` : ''}`,
    ),
  ];
}
