/**
 * A text-level fast path for COPY: one capsule row line (a JSON object on one line) straight to a
 * COPY TEXT line, without building the row object.
 *
 * `scanRowLine` validates the line with the full JSON grammar (it accepts exactly what JSON.parse
 * accepts for an object) and records, per top-level member, where its key and value are and what
 * kind of value it is. `copyLineFromScan` then writes each column's field from the value's text:
 * numbers verbatim (the capsule's exact digits), strings decoded, booleans t/f, null `\N`, and
 * jsonb values as their raw JSON text (Postgres parses it; the digits stay exact). Anything it does
 * not handle identically to the object path (arrays or objects for non-jsonb columns, non-string
 * values or escaped strings for `json` columns, whose text Postgres keeps as given) makes it
 * return null and the caller takes the object path (copy-encoding.ts) for that row.
 */
import { type ColumnCodec, escapeCopyText, UnstorableValueError } from './copy-encoding.js';

export enum ValueKind {
  /** A string without backslash escapes. */
  PlainString = 0,
  EscapedString = 1,
  Number = 2,
  True = 3,
  False = 4,
  Null = 5,
  Object = 6,
  Array = 7,
}

/** Members of one scanned row: per member 5 ints (key start, key end, value start, value end, kind). */
export interface RowScan {
  count: number;
  /** Ends are exclusive; key spans include the quotes. */
  spans: Int32Array;
}

class Invalid extends Error {}
const INVALID = new Invalid();

/** A scanner with reusable buffers: one per load, not shared between concurrent loads. */
export class RowLineScanner {
  private spans = new Int32Array(5 * 32);
  private readonly scan: RowScan = { count: 0, spans: this.spans };
  private text = '';
  private pos = 0;

  /** The members of a one-line JSON object, or null when the text is not exactly one JSON object. */
  scanRowLine(text: string): RowScan | null {
    this.text = text;
    this.pos = 0;
    try {
      this.ws();
      if (text.charCodeAt(this.pos) !== 123 /* { */) return null;
      this.pos++;
      let count = 0;
      this.ws();
      if (text.charCodeAt(this.pos) === 125 /* } */) {
        this.pos++;
      } else {
        for (;;) {
          this.ws();
          const keyStart = this.pos;
          if (text.charCodeAt(keyStart) !== 34) return null;
          this.string();
          const keyEnd = this.pos;
          this.ws();
          if (text.charCodeAt(this.pos) !== 58 /* : */) return null;
          this.pos++;
          this.ws();
          const valueStart = this.pos;
          const kind = this.value();
          if (5 * count + 5 > this.spans.length) {
            const bigger = new Int32Array(this.spans.length * 2);
            bigger.set(this.spans);
            this.spans = bigger;
            this.scan.spans = bigger;
          }
          const o = 5 * count;
          this.spans[o] = keyStart;
          this.spans[o + 1] = keyEnd;
          this.spans[o + 2] = valueStart;
          this.spans[o + 3] = this.pos;
          this.spans[o + 4] = kind;
          count++;
          this.ws();
          const c = text.charCodeAt(this.pos);
          this.pos++;
          if (c === 44 /* , */) continue;
          if (c === 125 /* } */) break;
          return null;
        }
      }
      this.ws();
      if (this.pos !== text.length) return null;
      this.scan.count = count;
      return this.scan;
    } catch (err) {
      if (err === INVALID) return null;
      throw err;
    }
  }

  private ws(): void {
    const t = this.text;
    let p = this.pos;
    for (;;) {
      const c = t.charCodeAt(p);
      if (c === 32 || c === 9 || c === 10 || c === 13) p++;
      else break;
    }
    this.pos = p;
  }

  /** Scans one value starting at pos (no leading whitespace); returns its kind. */
  private value(): ValueKind {
    const t = this.text;
    const c = t.charCodeAt(this.pos);
    if (c === 34) return this.string();
    if (c === 123 /* { */ || c === 91 /* [ */) {
      this.container();
      return c === 123 ? ValueKind.Object : ValueKind.Array;
    }
    if (c === 116 /* t */) return this.literal('true', ValueKind.True);
    if (c === 102 /* f */) return this.literal('false', ValueKind.False);
    if (c === 110 /* n */) return this.literal('null', ValueKind.Null);
    this.number();
    return ValueKind.Number;
  }

  private literal(word: string, kind: ValueKind): ValueKind {
    if (!this.text.startsWith(word, this.pos)) throw INVALID;
    this.pos += word.length;
    return kind;
  }

  /** A JSON string at pos (the opening quote); rejects raw control characters and bad escapes. */
  private string(): ValueKind {
    const t = this.text;
    let p = this.pos + 1;
    let escaped = false;
    for (;;) {
      const c = t.charCodeAt(p);
      if (c === 34) break;
      if (c === 92) {
        escaped = true;
        const e = t.charCodeAt(p + 1);
        if (e === 117 /* u */) {
          for (let i = 2; i < 6; i++) {
            const h = t.charCodeAt(p + i);
            const hex = (h >= 48 && h <= 57) || (h >= 65 && h <= 70) || (h >= 97 && h <= 102);
            if (!hex) throw INVALID;
          }
          p += 6;
          continue;
        }
        // " \ / b f n r t
        if (
          e === 34 ||
          e === 92 ||
          e === 47 ||
          e === 98 ||
          e === 102 ||
          e === 110 ||
          e === 114 ||
          e === 116
        ) {
          p += 2;
          continue;
        }
        throw INVALID;
      }
      // Control characters (and the end of the text: NaN) are not allowed raw in a JSON string.
      if (!(c >= 32)) throw INVALID;
      p++;
    }
    this.pos = p + 1;
    return escaped ? ValueKind.EscapedString : ValueKind.PlainString;
  }

  /** -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)? */
  private number(): void {
    const t = this.text;
    let p = this.pos;
    if (t.charCodeAt(p) === 45 /* - */) p++;
    let c = t.charCodeAt(p);
    if (c === 48) p++;
    else if (c >= 49 && c <= 57) {
      p++;
      while (isDigit(t.charCodeAt(p))) p++;
    } else throw INVALID;
    if (t.charCodeAt(p) === 46 /* . */) {
      p++;
      if (!isDigit(t.charCodeAt(p))) throw INVALID;
      while (isDigit(t.charCodeAt(p))) p++;
    }
    c = t.charCodeAt(p);
    if (c === 101 || c === 69) {
      p++;
      c = t.charCodeAt(p);
      if (c === 43 || c === 45) p++;
      if (!isDigit(t.charCodeAt(p))) throw INVALID;
      while (isDigit(t.charCodeAt(p))) p++;
    }
    this.pos = p;
  }

  /** An object or array at pos, with everything nested in it (iterative: no recursion limit). */
  private container(): void {
    const t = this.text;
    // Stack of open containers: true = object.
    const stack: boolean[] = [];
    let c = t.charCodeAt(this.pos);
    stack.push(c === 123);
    this.pos++;
    this.ws();
    // Empty container?
    c = t.charCodeAt(this.pos);
    let justOpened = true;
    for (;;) {
      const inObject = stack[stack.length - 1]!;
      this.ws();
      c = t.charCodeAt(this.pos);
      if (justOpened && c === (inObject ? 125 : 93)) {
        this.pos++;
        stack.pop();
        if (stack.length === 0) return;
        justOpened = false;
        if (this.afterValue(stack)) return;
        continue;
      }
      justOpened = false;
      if (inObject) {
        if (c !== 34) throw INVALID;
        this.string();
        this.ws();
        if (t.charCodeAt(this.pos) !== 58) throw INVALID;
        this.pos++;
        this.ws();
        c = t.charCodeAt(this.pos);
      }
      if (c === 123 || c === 91) {
        stack.push(c === 123);
        this.pos++;
        justOpened = true;
        continue;
      }
      this.value();
      if (this.afterValue(stack)) return;
    }
  }

  /** After a value inside a container: `,` (next member) or the closer(s). True when the outermost closed. */
  private afterValue(stack: boolean[]): boolean {
    const t = this.text;
    for (;;) {
      this.ws();
      const c = t.charCodeAt(this.pos);
      const inObject = stack[stack.length - 1]!;
      if (c === 44) {
        this.pos++;
        return false;
      }
      if (c === (inObject ? 125 : 93)) {
        this.pos++;
        stack.pop();
        if (stack.length === 0) return true;
        continue;
      }
      throw INVALID;
    }
  }
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** How one row member is loaded: its column position in the COPY column list, or -1 (not loaded). */
export interface FastSegment {
  /** Raw key texts (with quotes) in line order; a row takes the fast path only with exactly these. */
  rawKeys: string[];
  /** Per member: COPY column position or -1. */
  positions: Int32Array;
  codecs: readonly ColumnCodec[];
  fields: string[];
}

/**
 * The fast-path layout for a segment whose first row scanned as `scan`; null when the row's keys
 * repeat (JSON.parse keeps the last one; the object path handles that).
 */
export function fastSegment(
  text: string,
  scan: RowScan,
  columns: readonly string[],
  codecs: readonly ColumnCodec[],
): FastSegment | null {
  const rawKeys: string[] = [];
  const positions = new Int32Array(scan.count);
  const seen = new Set<string>();
  for (let i = 0; i < scan.count; i++) {
    const raw = text.slice(scan.spans[5 * i]!, scan.spans[5 * i + 1]!);
    const key = JSON.parse(raw) as string;
    if (seen.has(key)) return null;
    seen.add(key);
    rawKeys.push(raw);
    positions[i] = columns.indexOf(key);
  }
  return { rawKeys, positions, codecs, fields: new Array<string>(columns.length) };
}

/**
 * The COPY TEXT line (with newline) for a scanned row of the segment, or null when this row needs
 * the object path (other keys, or a value the fast path does not encode identically).
 */
export function copyLineFromScan(text: string, scan: RowScan, seg: FastSegment): string | null {
  if (scan.count !== seg.rawKeys.length) return null;
  const s = scan.spans;
  const fields = seg.fields;
  for (let i = 0; i < scan.count; i++) {
    const o = 5 * i;
    const keyStart = s[o]!;
    const keyEnd = s[o + 1]!;
    const rawKey = seg.rawKeys[i]!;
    if (keyEnd - keyStart !== rawKey.length || !text.startsWith(rawKey, keyStart)) return null;
    const p = seg.positions[i]!;
    if (p < 0) continue;
    let field: string | null;
    try {
      field = fieldText(text, s[o + 2]!, s[o + 3]!, s[o + 4]! as ValueKind, seg.codecs[p]!);
    } catch (err) {
      if (err instanceof UnstorableValueError) err.column ??= JSON.parse(rawKey) as string;
      throw err;
    }
    if (field === null) return null;
    fields[p] = field;
  }
  return `${fields.join('\t')}\n`;
}

function fieldText(
  text: string,
  start: number,
  end: number,
  kind: ValueKind,
  codec: ColumnCodec,
): string | null {
  switch (kind) {
    case ValueKind.Null:
      return '\\N';
    case ValueKind.Number:
      // Verbatim digits: what the exact parser keeps, and what JSON.parse keeps for the rest.
      return text.slice(start, end);
    case ValueKind.True:
      return codec.kind === 'json' ? 'true' : 't';
    case ValueKind.False:
      return codec.kind === 'json' ? 'false' : 'f';
    case ValueKind.PlainString:
      // No backslash and no control characters: nothing to COPY-escape. A json column carried as
      // text (capsule columnEncodings) holds its value's text in the string.
      return codec.kind === 'json' && !codec.textForm
        ? text.slice(start, end)
        : text.slice(start + 1, end - 1);
    case ValueKind.EscapedString:
      if (codec.kind === 'json' && !codec.textForm)
        return codec.jsonb ? escapeCopyText(text.slice(start, end)) : null;
      return escapeCopyText(JSON.parse(text.slice(start, end)) as string);
    default:
      // Objects and arrays: jsonb parses the raw text itself.
      if (codec.kind === 'json' && codec.jsonb) return escapeCopyText(text.slice(start, end));
      return null;
  }
}
