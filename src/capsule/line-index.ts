/**
 * The index pass of the line layout (rows.ts): one pass over the capsule's bytes that finds each
 * table's byte range and row count without parsing rows, collects the header's lines, and checks
 * every row on the way (capsule/byte-check.ts: UTF-8 per chunk, then per row duplicate keys,
 * nesting and sizes), before materialize connects: rows go to COPY as text later.
 *
 * Inside `"tables": {…}` every row must be one line (trailing or leading commas); anything else
 * is not this layout (null: the caller takes the generic path).
 */
import type { Readable } from 'node:stream';
import { InputError } from '../errors.js';
import { MAX_VALUE_BYTES, RowLineChecker, RowStreamChecker, Utf8Stream, utf8Error } from './byte-check.js';
import { firstNonSpace, LineSplitter, lastNonSpace } from './line-splitter.js';

const TABLES_OPEN = /^\s*"tables"\s*:\s*\{\s*$/;
const TABLE_OPEN = /^\s*("(?:[^"\\]|\\.)*")\s*:\s*\[\s*$/;
const TABLE_EMPTY = /^\s*("(?:[^"\\]|\\.)*")\s*:\s*\[\s*\]\s*,?\s*$/;
const TABLE_CLOSE = /^\s*\]\s*,?\s*$/;
const OBJECT_CLOSE = /^\s*\}\s*,?\s*$/;

class NotLineLayout extends Error {}

interface ByteRange {
  start: number;
  end: number;
}

export interface LineLayout {
  /** The lines outside `tables` (and the `"tables": {` and closing lines): the header's JSON. */
  headerLines: string[];
  /** Row count per table, in file order. */
  counts: Record<string, number>;
  /** Each table's rows' bytes in the (decoded) text. */
  ranges: Map<string, ByteRange>;
}

/** Scans `stream` (the capsule's text); null when it is not the line layout. */
export async function scanLineLayout(path: string, stream: Readable): Promise<LineLayout | null> {
  const index = new LineLayoutIndex(path);
  const splitter = new LineSplitter(index.onLine, index.onLongLine);
  try {
    try {
      for await (const chunk of stream) {
        index.chunk(chunk as Buffer);
        splitter.push(chunk as Buffer);
      }
      splitter.end();
    } finally {
      stream.destroy();
    }
    index.end();
  } catch (err) {
    if (err instanceof NotLineLayout) return null;
    throw err;
  }
  return index.done() ? index.layout : null;
}

/** The index pass's state: where in the layout the current line is. */
class LineLayoutIndex {
  readonly layout: LineLayout = {
    headerLines: [],
    ranges: new Map(),
    // No prototype: a table may be named `toString`, `constructor` or `__proto__` (plain
    // identifiers), which `in` / assignment on a `{}` would misread
    // (test/property/capsule-roundtrip.property.test.ts).
    counts: Object.create(null) as Record<string, number>,
  };
  #state: 'header' | 'tables' | 'table' | 'after' = 'header';
  #table = '';
  #bom = true;
  readonly #utf8 = new Utf8Stream();
  #seen = 0;
  /** Offset of the first invalid UTF-8 byte (-1: none so far). */
  #badUtf8 = -1;
  readonly #rowChecker: RowLineChecker;
  /** The row being read when it is longer than LONG_LINE (checked as it streams in). */
  #longRow: RowStreamChecker | null = null;

  constructor(private readonly path: string) {
    this.#rowChecker = new RowLineChecker(path);
  }

  /** Every chunk, before its lines: the UTF-8 check. */
  chunk(buf: Buffer): void {
    if (this.#badUtf8 < 0) this.#badUtf8 = this.#utf8.write(buf, this.#seen);
    this.#seen += buf.length;
  }

  end(): void {
    if (this.#badUtf8 < 0) this.#badUtf8 = this.#utf8.end(this.#seen);
    if (this.#badUtf8 >= 0) throw utf8Error(this.path, this.#badUtf8, null);
  }

  /** The whole layout was seen (the top-level object closed after `tables`). */
  done(): boolean {
    return this.#state === 'after';
  }

  readonly onLine = (buf: Buffer, start: number, end: number, offset: number): void => {
    const lineEnd = offset + (end - start);
    if (this.#bom) {
      this.#bom = false;
      if (buf[start] === 0xef && buf[start + 1] === 0xbb && buf[start + 2] === 0xbf) start += 3;
    }
    if (this.#state === 'table') {
      this.#tableLine(buf, start, end, offset, lineEnd);
      return;
    }
    if (this.#badUtf8 >= 0 && this.#badUtf8 <= lineEnd) throw utf8Error(this.path, this.#badUtf8, null);
    const line = buf.toString('utf8', start, end);
    if (this.#state === 'tables') this.#tablesLine(line, offset);
    else {
      if (this.#state === 'header' && TABLES_OPEN.test(line)) this.#state = 'tables';
      this.layout.headerLines.push(line);
    }
  };

  readonly onLongLine = (piece: Buffer, lineOffset: number, first: boolean, length: number): void => {
    if (this.#state !== 'table') {
      if (length > MAX_VALUE_BYTES)
        throw new InputError(
          `${this.path}: a header line is larger than ${MAX_VALUE_BYTES >> 20} MiB (the limit per value)`,
        );
      return;
    }
    if (first)
      this.#longRow = new RowStreamChecker(
        this.path,
        this.#table,
        this.layout.counts[this.#table]!,
        lineOffset,
      );
    this.#longRow!.write(piece);
  };

  /** Inside a table: a row line, or the table's closing `]`. */
  #tableLine(buf: Buffer, start: number, end: number, offset: number, lineEnd: number): void {
    const { counts } = this.layout;
    const table = this.#table;
    let s = firstNonSpace(buf, start, end);
    const e = lastNonSpace(buf, start, end);
    // One row per line with leading commas (`,{…}`) is the same layout.
    if (buf[s] === 44 /* , */ && counts[table]! > 0) s = firstNonSpace(buf, s + 1, end);
    if (buf[s] === 123 /* { */) {
      const last = buf[e] === 44 /* , */ ? lastNonSpace(buf, s, e) : e;
      if (buf[last] !== 125 /* } */) throw new NotLineLayout();
      const index = counts[table]!;
      const at = offset + (s - start);
      if (this.#badUtf8 >= 0 && this.#badUtf8 <= lineEnd) {
        const col = this.#rowChecker.columnAt(buf, s, last + 1, s + (this.#badUtf8 - at));
        throw utf8Error(
          this.path,
          this.#badUtf8,
          `tables.${table}[${index}]${col === null ? '' : `.${col}`}`,
        );
      }
      if (this.#longRow)
        this.#longRow = null; // checked as it streamed in
      else this.#rowChecker.check(buf, s, last + 1, table, index, at);
      counts[table] = index + 1;
      return;
    }
    if (buf[s] === 93 /* ] */ && TABLE_CLOSE.test(buf.toString('utf8', start, end))) {
      this.layout.ranges.get(table)!.end = offset;
      this.#state = 'tables';
      return;
    }
    throw new NotLineLayout();
  }

  /** Inside `tables`: a table's opening line, an empty table, or the closing `}`. */
  #tablesLine(line: string, offset: number): void {
    const { counts, ranges } = this.layout;
    const open = TABLE_OPEN.exec(line);
    const empty = open ? null : TABLE_EMPTY.exec(line);
    const m = open ?? empty;
    if (m) {
      const table = JSON.parse(m[1]!) as string;
      if (Object.hasOwn(counts, table)) throw new InputError(`${this.path}: tables.${table}: appears twice`);
      counts[table] = 0;
      this.#table = table;
      if (open) {
        ranges.set(table, { start: offset + Buffer.byteLength(line) + 1, end: 0 });
        this.#state = 'table';
      } else ranges.set(table, { start: 0, end: 0 });
      return;
    }
    if (OBJECT_CLOSE.test(line)) {
      this.layout.headerLines.push(line);
      this.#state = 'after';
      return;
    }
    throw new NotLineLayout();
  }
}
