/**
 * Structured access to json/jsonb columns carried as text (`columnEncodings`, see
 * postgres/copy/column-encoding.ts), for code that walks row values by field name: redaction, the
 * secret scanner, the subject rewrite.
 *
 * `openJsonColumns` replaces each such column's text by its parsed value (so rules see inside it);
 * `closeJsonColumns` puts the original text back for every column nothing changed, and re-encodes
 * the ones that did change. Values nothing touched therefore stay byte-identical (whitespace, key
 * order and duplicate keys of a `json` value included).
 */
import { type ExactJson, parseExact, stringifyExact } from '../util/exact-json.js';

export type JsonColumnEncoding = 'json' | 'jsonb';

/** Which encodings hold JSON text that rules may look into. */
export function jsonEncodedColumns(
  encodings: Record<string, string> | undefined,
): Map<string, JsonColumnEncoding> | null {
  if (!encodings) return null;
  const out = new Map<string, JsonColumnEncoding>();
  for (const [col, enc] of Object.entries(encodings))
    if (enc === 'json' || enc === 'jsonb') out.set(col, enc);
  return out.size > 0 ? out : null;
}

export interface OpenedColumns {
  /** Column -> its text as read. */
  original: Map<string, string>;
}

/** Parses a json column's text; duplicate keys (valid in `json`) fall back to last-wins. */
function parseJsonText(text: string): ExactJson {
  try {
    return parseExact(text);
  } catch {
    return JSON.parse(text) as ExactJson;
  }
}

export function openJsonColumns(
  row: Record<string, ExactJson>,
  cols: Map<string, JsonColumnEncoding>,
): OpenedColumns {
  const original = new Map<string, string>();
  for (const col of cols.keys()) {
    const v = row[col];
    if (typeof v !== 'string') continue;
    original.set(col, v);
    row[col] = parseJsonText(v);
  }
  return { original };
}

/** True when `path` is the column or inside it (`col`, `col.x`, `col[0]`). */
export function pathInColumn(path: string, col: string): boolean {
  return path === col || (path.startsWith(col) && (path[col.length] === '.' || path[col.length] === '['));
}

/**
 * Restores or re-encodes the columns `openJsonColumns` opened (and any jsonb column a rule
 * replaced). `changed(col)`: whether something was replaced at or inside the column.
 */
export function closeJsonColumns(
  row: Record<string, ExactJson>,
  cols: Map<string, JsonColumnEncoding>,
  opened: OpenedColumns,
  changed: (col: string) => boolean,
): void {
  for (const [col, enc] of cols) {
    if (!(col in row)) continue;
    const text = opened.original.get(col);
    if (!changed(col)) {
      if (text !== undefined) row[col] = text;
      continue;
    }
    const v = row[col]!;
    if (v === null) continue; // a rule's `null`: SQL NULL, as in a version-1 capsule
    if (enc === 'json') row[col] = stringifyExact(v);
    // jsonb: objects, arrays, numbers and booleans stay JSON; a string is carried as its text.
    else if (typeof v === 'string') row[col] = JSON.stringify(v);
  }
}
