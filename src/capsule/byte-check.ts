/**
 * Input limits for capsule rows, and the checks that enforce them before materialize connects.
 *
 * What is refused (an InputError naming the file, the table, the row index and the column):
 * - bytes that are not UTF-8 (decoders would silently turn them into U+FFFD);
 * - a key twice in one row (JSON.parse and the tokenizer keep one of them silently);
 * - a column value nested more than MAX_NESTING_DEPTH arrays/objects deep;
 * - a value whose JSON text is over MAX_VALUE_BYTES, a row over MAX_ROW_BYTES (found when the
 *   limit is crossed, not after buffering the whole value).
 * The streaming reader (reader.ts: inspect, run, the generic materialize spool) checks these on
 * its tokens. The materialize index over the one-row-per-line layout (postgres/materialize/
 * capsule/rows.ts), whose rows later go to COPY as text without being parsed again as a whole,
 * checks UTF-8 per chunk (Utf8Stream) and each row with RowLineChecker (RowStreamChecker for rows
 * too long for one read). These are not JSON validators: grammar errors are the parsers'.
 */
import { isUtf8 } from 'node:buffer';
import { InputError } from '../errors.js';
import { firstInvalidUtf8 } from '../util/utf8.js';

/**
 * Arrays/objects inside one column value (or header value): `[]` is 1. Postgres 17's jsonb input
 * accepts ~10000 levels with the default 2 MB max_stack_depth; 1000 leaves room and is far beyond
 * real data.
 */
export const MAX_NESTING_DEPTH = 1000;
/**
 * One value's JSON text (a string with its quotes and escapes, a number, or a whole json/jsonb
 * value). Postgres stores at most 1 GB per field and ~256 MB per jsonb value; V8 strings end at
 * ~512 MiB.
 */
export const MAX_VALUE_BYTES = 256 * 1024 * 1024;
/** One row's JSON text: it becomes one JS string (V8's limit is 2^29 − 24 characters). */
export const MAX_ROW_BYTES = 500 * 1024 * 1024;

const MIB = 1024 * 1024;

/** Bytes a row scan stops at outside strings: " , : [ ] { } */
const STRUCTURAL = new Uint8Array(256);
for (const c of '",:[]{}') STRUCTURAL[c.charCodeAt(0)] = 1;

/**
 * The checks of RowLineChecker for one row that arrives in pieces (the materialize index hands over
 * rows longer than 16 MiB as they stream in): a value or row over the limit is refused when the
 * limit is crossed, before the row is held whole. Rare, so simple: every key is decoded.
 */
export class RowStreamChecker {
  private offset: number;
  private depth = 0;
  private inString = false;
  private escape = false;
  private stringStart = 0;
  private expectKey = false;
  private isKey = false;
  private keyBytes: Buffer[] = [];
  private readonly keys = new Set<string>();
  private column: string | null = null;
  private colStart = -1;

  constructor(
    private readonly path: string,
    private readonly table: string,
    private readonly index: number,
    /** Offset of the row's first byte in the capsule text. */
    private readonly rowStart: number,
  ) {
    this.offset = rowStart;
  }

  write(piece: Uint8Array): void {
    const base = this.offset;
    let i = 0;
    const n = piece.length;
    if (this.inString && this.escape) i = 1;
    this.escape = false;
    while (i < n) {
      if (this.inString) {
        const from = i;
        for (; i < n; i++) {
          const c = piece[i]!;
          if (c === 0x22) break;
          if (c === 0x5c) i++;
        }
        if (this.isKey) this.keyBytes.push(Buffer.from(piece.subarray(from, Math.min(i, n))));
        if (i >= n) {
          this.escape = i > n;
          break;
        }
        this.inString = false;
        i++;
        if (base + i - this.stringStart > MAX_VALUE_BYTES) throw this.tooLarge('string', base + i);
        if (this.isKey) this.key();
        continue;
      }
      const b = piece[i++]!;
      if (STRUCTURAL[b] === 0) continue;
      const at = base + i - 1;
      if (b === 0x22) {
        this.inString = true;
        this.stringStart = at;
        this.isKey = this.expectKey && this.depth === 1;
        this.expectKey = false;
        this.keyBytes = [];
      } else if (b === 0x3a) {
        if (this.depth === 1) this.colStart = at + 1;
      } else if (b === 0x2c) {
        if (this.depth === 1) {
          this.valueEnd(at);
          this.expectKey = true;
        }
      } else if (b === 0x7b || b === 0x5b) {
        if (++this.depth > MAX_NESTING_DEPTH + 1) throw tooDeepError(this.path, this.where());
        if (this.depth === 1) this.expectKey = b === 0x7b;
      } else if (--this.depth === 0) this.valueEnd(at);
    }
    this.offset = base + n;
    // Limits on what is still open: found as soon as they are crossed.
    if (this.inString && this.offset - this.stringStart > MAX_VALUE_BYTES)
      throw this.tooLarge('string', this.offset);
    if (this.colStart >= 0 && this.offset - this.colStart > MAX_VALUE_BYTES)
      throw this.tooLarge('value', this.offset);
    if (this.offset - this.rowStart > MAX_ROW_BYTES) throw this.tooLarge('row', this.offset);
  }

  private key(): void {
    const bytes = Buffer.concat(this.keyBytes);
    const key = decodeKey(bytes, 0, bytes.length);
    if (this.keys.has(key)) throw duplicateKeyError(this.path, this.rowWhere(), key);
    this.keys.add(key);
    this.column = key;
  }

  private valueEnd(at: number): void {
    if (this.colStart >= 0 && at - this.colStart > MAX_VALUE_BYTES) throw this.tooLarge('value', at);
    this.colStart = -1;
  }

  private tooLarge(what: 'string' | 'value' | 'row', offset: number): InputError {
    return tooLargeError(this.path, this.where(), what, offset);
  }

  private rowWhere(): string {
    return `tables.${this.table}[${this.index}]`;
  }

  private where(): string {
    return this.column === null ? this.rowWhere() : `${this.rowWhere()}.${this.column}`;
  }
}

function decodeKey(bytes: Uint8Array, from: number, to: number): string {
  const raw = Buffer.from(bytes.buffer, bytes.byteOffset + from, to - from).toString('utf8');
  if (raw.indexOf('\\') < 0) return raw;
  try {
    return JSON.parse(`"${raw}"`) as string;
  } catch {
    return raw; // a bad escape: the parser that follows reports it
  }
}

// ---------------------------------------------------------------------------------------------
// Messages (the same for both checkers)

export function tooLargeError(path: string, where: string, what: 'string' | 'value' | 'row', offset: number) {
  if (what === 'row')
    return new InputError(
      `${path}: ${where}: row is larger than ${MAX_ROW_BYTES / MIB} MiB (the limit per row; crossed at byte offset ${offset})`,
    );
  return new InputError(
    `${path}: ${where}: ${what} is larger than ${MAX_VALUE_BYTES / MIB} MiB (the limit per value; crossed at byte offset ${offset})`,
  );
}

export function tooDeepError(path: string, where: string) {
  return new InputError(
    `${path}: ${where}: nested more than ${MAX_NESTING_DEPTH} levels deep (the limit for one value)`,
  );
}

export function duplicateKeyError(path: string, rowWhere: string, key: string) {
  return new InputError(
    `${path}: ${rowWhere}: duplicate key ${JSON.stringify(key)} (a row names each column once)`,
  );
}

export function utf8Error(path: string, offset: number, where: string | null) {
  return new InputError(
    `${path}: invalid UTF-8 at byte offset ${offset}${where ? ` (in ${where})` : ''}; a capsule is UTF-8 JSON`,
  );
}

// ---------------------------------------------------------------------------------------------

/** UTF-8 validation of a byte stream, chunk by chunk (native `isUtf8`; a sequence may span chunks). */
export class Utf8Stream {
  /** Trailing bytes of an incomplete sequence at the end of the last chunk. */
  private held: Buffer | null = null;

  /** Absolute offset of the first invalid byte of `chunk` (which starts at `base`), or -1. */
  write(chunk: Buffer, base: number): number {
    const held = this.held;
    const all = held ? Buffer.concat([held, chunk]) : chunk;
    const allBase = base - (held ? held.length : 0);
    // Hold back a sequence cut by the chunk end.
    let end = all.length;
    for (let k = 1; k <= 3 && k <= all.length; k++) {
      const b = all[all.length - k]!;
      if (b < 0x80) break;
      if (b >= 0xc0) {
        const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
        if (need > k) end = all.length - k;
        break;
      }
    }
    this.held = end < all.length ? Buffer.from(all.subarray(end)) : null;
    if (isUtf8(all.subarray(0, end))) return -1;
    return allBase + firstInvalidUtf8(all, 0, end);
  }

  /** At the end of the stream (which ended at `base`): the offset of a truncated sequence, or -1. */
  end(base: number): number {
    return this.held ? base - this.held.length : -1;
  }
}

/**
 * The row checks (module comment) for one row held whole in a buffer (the materialize index's
 * one-row-per-line layout; UTF-8 is checked per chunk there). One tight loop per row: only the
 * row's own level matters (its keys, each value's extent), deeper levels only count their depth.
 * A row repeating the previous checked row's keys byte for byte needs no decoding (see `template`).
 */
export class RowLineChecker {
  private template: Uint8Array = new Uint8Array(256);
  private templateEnds = new Int32Array(64);
  private templateCount = 0;
  private keyStarts = new Int32Array(64);
  private keyEnds = new Int32Array(64);
  private lastBuffer: Uint8Array | null = null;
  private view: Uint8Array = new Uint8Array(0);

  constructor(private readonly path: string) {}

  /**
   * Checks row `index` of `table`: the object text buf[s, e) (a JSON object, `{` … `}`) whose first
   * byte is at `offset` in the capsule text.
   */
  check(bytes: Uint8Array, s: number, e: number, table: string, index: number, offset: number): void {
    // Index a plain Uint8Array view: V8 reads it about twice as fast as a Buffer (a subclass).
    if (bytes !== this.lastBuffer) {
      this.lastBuffer = bytes;
      this.view = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
    }
    const buf = this.view;
    const structural = STRUCTURAL;
    if (e - s > MAX_ROW_BYTES)
      throw tooLargeError(this.path, `tables.${table}[${index}]`, 'row', offset + MAX_ROW_BYTES);
    const t = this.template;
    const tEnds = this.templateEnds;
    const tCount = this.templateCount;
    let depth = 1;
    let n = 0; // keys so far
    let expectKey = true;
    let slow = false;
    let colStart = -1;
    let set: Set<string> | null = null;
    let i = s + 1;
    while (i < e) {
      const b = buf[i++]!;
      if (structural[b] === 0) continue;
      if (b === 0x22) {
        const start = i;
        for (; i < e; i++) {
          const c = buf[i]!;
          if (c > 0x5c || (c !== 0x22 && c !== 0x5c)) continue;
          if (c === 0x22) break;
          i++;
        }
        if (i >= e) return; // unterminated: JSON errors are the parsers'
        const stop = i++;
        if (stop - start + 2 > MAX_VALUE_BYTES)
          throw tooLargeError(this.path, this.where(table, index, buf, n), 'string', offset + (i - s));
        if (!expectKey || depth !== 1) continue;
        expectKey = false;
        // A row key: buf[start, stop).
        const len = stop - start;
        if (n >= this.keyStarts.length) this.growKeys();
        this.keyStarts[n] = start;
        this.keyEnds[n] = stop;
        if (!slow) {
          if (n < tCount) {
            const ts = n === 0 ? 0 : tEnds[n - 1]!;
            if (tEnds[n]! - ts === len) {
              let x = 0;
              while (x < len && t[ts + x] === buf[start + x]) x++;
              if (x === len) {
                n++;
                continue; // so far a prefix of the template: distinct keys
              }
            }
          }
          slow = true;
          set = new Set();
          for (let k = 0; k < n; k++) set.add(decodeKey(buf, this.keyStarts[k]!, this.keyEnds[k]!));
        }
        const key = decodeKey(buf, start, stop);
        if (set!.has(key)) throw duplicateKeyError(this.path, `tables.${table}[${index}]`, key);
        set!.add(key);
        n++;
        continue;
      }
      if (b === 0x2c) {
        if (depth === 1) {
          if (colStart >= 0 && i - 1 - colStart > MAX_VALUE_BYTES)
            throw tooLargeError(this.path, this.where(table, index, buf, n), 'value', offset + (i - s));
          expectKey = true;
        }
        continue;
      }
      if (b === 0x3a) {
        if (depth === 1) colStart = i;
        continue;
      }
      if (b === 0x7b || b === 0x5b) {
        if (++depth > MAX_NESTING_DEPTH + 1) throw tooDeepError(this.path, this.where(table, index, buf, n));
        continue;
      }
      // } ]
      if (--depth === 0) {
        if (colStart >= 0 && i - 1 - colStart > MAX_VALUE_BYTES)
          throw tooLargeError(this.path, this.where(table, index, buf, n), 'value', offset + (i - s));
        break;
      }
    }
    if (slow) {
      // Checked key by key: the template for the next rows.
      let size = 0;
      for (let k = 0; k < n; k++) size += this.keyEnds[k]! - this.keyStarts[k]!;
      if (size > this.template.length) this.template = new Uint8Array(size);
      if (n > this.templateEnds.length) this.templateEnds = new Int32Array(this.keyEnds.length);
      let p = 0;
      for (let k = 0; k < n; k++) {
        this.template.set(buf.subarray(this.keyStarts[k]!, this.keyEnds[k]!), p);
        p += this.keyEnds[k]! - this.keyStarts[k]!;
        this.templateEnds[k] = p;
      }
      this.templateCount = n;
    }
  }

  /** The column in which the byte at buf[p] lies (cold: error messages). */
  columnAt(buf: Uint8Array, s: number, e: number, p: number): string | null {
    let depth = 0;
    let expectKey = false;
    let key: string | null = null;
    for (let i = s; i < e && i < p; i++) {
      const b = buf[i]!;
      if (b === 0x22) {
        const start = i + 1;
        for (i = start; i < e; i++) {
          if (buf[i] === 0x22) break;
          if (buf[i] === 0x5c) i++;
        }
        if (depth === 1 && expectKey && i < p) key = decodeKey(buf, start, i);
        expectKey = false;
      } else if (b === 0x7b || b === 0x5b) {
        depth++;
        expectKey = depth === 1;
      } else if (b === 0x7d || b === 0x5d) depth--;
      else if (b === 0x2c && depth === 1) expectKey = true;
    }
    return key;
  }

  private where(table: string, index: number, buf: Uint8Array, n: number): string {
    const row = `tables.${table}[${index}]`;
    return n === 0 ? row : `${row}.${decodeKey(buf, this.keyStarts[n - 1]!, this.keyEnds[n - 1]!)}`;
  }

  private growKeys(): void {
    const a = new Int32Array(this.keyStarts.length * 2);
    a.set(this.keyStarts);
    this.keyStarts = a;
    const b = new Int32Array(this.keyEnds.length * 2);
    b.set(this.keyEnds);
    this.keyEnds = b;
  }
}
