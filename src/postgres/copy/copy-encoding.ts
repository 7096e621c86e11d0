/**
 * Postgres COPY TEXT-format fields, both ways: capsule values (exact JSON) encoded for
 * `COPY … FROM STDIN` (materialize), and fields of `COPY … TO STDOUT` decoded (copyUnescape, export).
 *
 * COPY TEXT: fields separated by tab, rows by newline, NULL is `\N`, and backslash, newline, CR
 * and tab inside a value are written as `\\`, `\n`, `\r`, `\t`. Because every backslash is doubled,
 * a value line that is just `\.` (the end-of-data marker) or the text `\N` can never be mistaken
 * for the marker or for NULL.
 *
 * How a JSON value becomes the column's text depends on the column type (from the target catalog):
 * - json/jsonb: the value's exact JSON text, so a JSON string `"123"` stays a string — unless the
 *   capsule carries the column as text (`textForm`), where a string is the value's own text;
 * - arrays: a JSON array becomes an array literal `{"a","b",NULL}` (nested arrays nest; elements
 *   of json/jsonb arrays are their JSON text); a JSON string is taken as literal array text;
 * - everything else: a string is the literal text, a number its exact digits, a boolean t/f.
 * Composite values (JSON objects for a row type) are not encodable here: such tables load through
 * jsonb_populate_recordset instead (see materialize).
 */

import { EXACT_ROW } from '../../capsule/rows.js';
import { FailureError } from '../../errors.js';
import { isLosslessNumber, stringifyExact } from '../../util/exact-json.js';

export type ColumnCodec =
  | {
      kind: 'json' /** jsonb (parses its input) rather than json (keeps the text as given). */;
      jsonb?: boolean;
      /** A string is the value's own text (capsule `columnEncodings`), not a JSON string. */
      textForm?: boolean;
    }
  | { kind: 'array'; element: 'json' | 'plain'; delimiter: string }
  | { kind: 'plain' };

const COPY_ESCAPES: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };
export const COPY_NULL = '\\N';

/** Decodes one field of COPY's text format (COPY TO only emits these backslash sequences). */
export function copyUnescape(field: string): string {
  if (field === COPY_NULL || field.indexOf('\\') < 0) return field;
  // jsonb text has no raw control characters, so usually the only escape is `\\`: two native
  // passes (NUL cannot occur in Postgres text) instead of a callback per match.
  const pairs = field.replaceAll('\\\\', '\u0000');
  if (pairs.indexOf('\\') < 0) return pairs.replaceAll('\u0000', '\\');
  return field.replace(/\\(.)/gs, (_m, c: string) => COPY_ESCAPES[c] ?? c);
}

/**
 * Characters to escape, NUL (Postgres text cannot hold it) and surrogates (checked for lone ones,
 * which UTF-8 cannot encode).
 */
const NEEDS_ESCAPE = /[\\\n\r\t\u0000\ud800-\udfff]/;

/**
 * COPY TEXT escaping of one field's text. A lone UTF-16 surrogate (a JSON `\ud800` escape without
 * its pair) has no UTF-8 form: Node would send U+FFFD and the load would silently change the
 * value, so it is an error (found by test/property/copy-roundtrip.property.test.ts); so is NUL.
 */
export function escapeCopyText(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return s;
  let out = '';
  let last = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = s.charCodeAt(i + 1);
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) i++;
      else throw unstorable(`a lone UTF-16 surrogate (\\u${c.toString(16)}, not valid Unicode)`);
      continue;
    }
    // Postgres would say `invalid byte sequence for encoding "UTF8": 0x00`; say what it means.
    if (c === 0) throw unstorable('U+0000 (NUL)');
    let rep: string | null = null;
    if (c === 92) rep = '\\\\';
    else if (c === 10) rep = '\\n';
    else if (c === 13) rep = '\\r';
    else if (c === 9) rep = '\\t';
    if (rep !== null) {
      out += s.slice(last, i) + rep;
      last = i + 1;
    }
  }
  return out + s.slice(last);
}

/** A value Postgres cannot store; `column` is filled in by the line encoders. */
export class UnstorableValueError extends FailureError {
  column?: string;
}

function unstorable(what: string): UnstorableValueError {
  return new UnstorableValueError(
    `a string value holds ${what}, which cannot be stored in a Postgres text value (a capsule exported from Postgres never holds one)`,
  );
}

/** Text of a scalar for a non-JSON column (strings as they are, numbers exact, booleans t/f). */
function plainText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  if (typeof v === 'boolean') return v ? 't' : 'f';
  if (isLosslessNumber(v)) return (v as { value: string }).value;
  // An object or array for a scalar column: hand Postgres the JSON text and let it judge.
  return stringifyExact(v);
}

const ARRAY_ELEMENT_ESCAPE = /[\\"]/g;

/** A Postgres array literal from a JSON array: every element quoted, NULL unquoted. */
export function arrayLiteral(values: readonly unknown[], element: 'json' | 'plain', delimiter = ','): string {
  const parts: string[] = new Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    // A JSON null element is an SQL NULL element, as jsonb_populate_recordset reads it (a jsonb
    // 'null' element of a jsonb[] exports the same way and cannot be told apart).
    if (v === null || v === undefined) parts[i] = 'NULL';
    else if (Array.isArray(v) && element === 'plain') parts[i] = arrayLiteral(v, element, delimiter);
    else {
      const text = element === 'json' ? stringifyExact(v) : plainText(v);
      parts[i] = `"${text.replace(ARRAY_ELEMENT_ESCAPE, '\\$&')}"`;
    }
  }
  return `{${parts.join(delimiter)}}`;
}

/** The text of one value for a column, before COPY escaping; null for SQL NULL. */
function columnText(v: unknown, codec: ColumnCodec, exact = true): string | null {
  if (v === null || v === undefined) return null;
  switch (codec.kind) {
    case 'json':
      if (typeof v === 'number') return String(v);
      if (codec.textForm && typeof v === 'string') return v;
      return exact ? stringifyExact(v) : JSON.stringify(v);
    case 'array':
      if (Array.isArray(v)) return arrayLiteral(v, codec.element, codec.delimiter);
      return plainText(v);
    default:
      return plainText(v);
  }
}

/** One COPY TEXT field: escaped text, or `\N`. */
export function copyField(v: unknown, codec: ColumnCodec, exact = true): string {
  if (v === null || v === undefined) return COPY_NULL;
  if (codec.kind === 'plain') {
    if (typeof v === 'string') return NEEDS_ESCAPE.test(v) ? escapeCopyText(v) : v;
    if (typeof v === 'number') return String(v);
    if (typeof v === 'boolean') return v ? 't' : 'f';
  }
  return escapeCopyText(columnText(v, codec, exact)!);
}

/**
 * One COPY TEXT line (with trailing newline) for a row and its columns. `exact`: the row may hold
 * LosslessNumbers (default: when it carries EXACT_ROW).
 */
export function copyLine(
  row: Record<string, unknown>,
  columns: readonly string[],
  codecs: readonly ColumnCodec[],
  exact = (row as { [EXACT_ROW]?: boolean })[EXACT_ROW] === true,
): string {
  let line = '';
  let i = 0;
  try {
    for (; i < columns.length; i++) {
      if (i > 0) line += '\t';
      line += copyField(row[columns[i]!], codecs[i]!, exact);
    }
  } catch (err) {
    if (err instanceof UnstorableValueError) err.column ??= columns[i];
    throw err;
  }
  return `${line}\n`;
}
