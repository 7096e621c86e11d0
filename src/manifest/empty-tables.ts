/**
 * Loud empties: a declared table that exported no rows is usually a mistake the user must see
 * (a history window that cut everything, a predicate on the wrong column, a subject that has no
 * data there). Pure: returns the warnings; the front doors print them.
 */
import type { Manifest } from './schema.js';

export interface EmptyTableWarning {
  table: string;
  /** True when the table's SQL uses the history window (`since_at`), so --since-days may explain it. */
  windowed: boolean;
  message: string;
}

const WINDOW = /\bsince_at\b/;

export function emptyTableWarnings(
  manifest: Manifest,
  counts: Record<string, number>,
  sinceDays: number,
): EmptyTableWarning[] {
  const out: EmptyTableWarning[] = [];
  for (const t of manifest.postgres.tables) {
    if ((counts[t.name] ?? 0) > 0) continue;
    const sql = [t.from, t.where, t.rowSql].filter(Boolean).join(' ');
    const windowed = WINDOW.test(sql);
    out.push({
      table: t.name,
      windowed,
      message: windowed
        ? `table ${t.name}: 0 rows exported; its query uses the history window (last ${sinceDays} days): widen it with --since-days N if the subject's rows are older`
        : `table ${t.name}: 0 rows exported for this subject (check the table's where/rowSql in the manifest if rows were expected)`,
    });
  }
  return out;
}
