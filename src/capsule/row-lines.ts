/**
 * Capsule rows as lines: each row is one line of exact JSON (the line layout our exporter writes,
 * or the generic path's spool, rows.ts). Lines are batched as text and parsed only when a batch's
 * `rows` are used (the COPY fast path encodes most lines from their text and never needs them).
 *
 * Row lines are parsed with the native JSON.parse unless the line holds a number JSON.parse could
 * change (a fraction, an exponent, 16+ digits, -0); those lines go through the exact parser.
 */
import type { Readable } from 'node:stream';
import { InputError } from '../errors.js';
import { isLosslessNumber, parseExact } from '../util/exact-json.js';
import { firstNonSpace, LineSplitter, lastNonSpace } from './line-splitter.js';

/**
 * Marks rows that were parsed with the exact (lossless) parser, i.e. that may hold LosslessNumbers.
 * Other rows hold only numbers JSON.parse kept exactly, so the much faster JSON.stringify is exact
 * for them too.
 */
export const EXACT_ROW: unique symbol = Symbol('replay-env.exactRow');

export type RowObject = Record<string, unknown>;

/**
 * Rows and the exact JSON text of each (reused by the jsonb strategy and the COPY fast path).
 * `rows` may be parsed lazily, on first access (throwing the capsule's InputError then).
 */
export interface RowBatch {
  readonly rows: RowObject[];
  readonly texts: string[];
}

/** Numbers JSON.parse could alter: fraction, exponent, 16+ digit integers, negative zero. */
const RISKY_NUMBER = /[:,[]\s*(?:-?(?:\d+\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+|\d{16,})|-0)\s*[,}\]]/;

/**
 * Parses one row line exactly (see module comment). The check can fire inside a string value
 * ("ratio:1.5,"), which only costs the slower exact parse.
 */
export function parseRowLine(text: string): RowObject {
  const exact = RISKY_NUMBER.test(text);
  const v: unknown = exact ? parseExact(text) : JSON.parse(text);
  if (v === null || typeof v !== 'object' || Array.isArray(v) || isLosslessNumber(v)) {
    throw new InputError('row is not a JSON object');
  }
  if (exact) Object.defineProperty(v, EXACT_ROW, { value: true });
  return v as RowObject;
}

/** A batch of row lines whose objects are parsed on first use of `rows`. */
class LineBatch implements RowBatch {
  readonly texts: string[] = [];
  #rows: RowObject[] | null = null;

  constructor(
    private readonly path: string,
    private readonly table: string,
    /** Row index (within the table) of the first line. */
    private readonly firstIndex: number,
  ) {}

  get rows(): RowObject[] {
    if (this.#rows) return this.#rows;
    const rows: RowObject[] = new Array(this.texts.length);
    for (let i = 0; i < this.texts.length; i++) {
      try {
        rows[i] = parseRowLine(this.texts[i]!);
      } catch (err) {
        throw new InputError(
          `${this.path}: tables.${this.table}[${this.firstIndex + i}]: not a valid row (${(err as Error).message})`,
        );
      }
    }
    this.#rows = rows;
    return rows;
  }
}

/** Collects row lines into batches of `batchSize`, skipping the rows before `fromRow`. */
class LineBatcher {
  /** Full batches, handed out after each chunk read. */
  readonly ready: RowBatch[] = [];
  #batch: LineBatch;
  #index = 0;

  constructor(
    private readonly path: string,
    private readonly table: string,
    private readonly batchSize: number,
    private readonly fromRow: number,
  ) {
    this.#batch = new LineBatch(path, table, fromRow);
  }

  /** One line: a row (leading or trailing comma allowed), or blank. */
  readonly onLine = (buf: Buffer, start: number, end: number): void => {
    let s = firstNonSpace(buf, start, end);
    let e = lastNonSpace(buf, start, end);
    if (e < s) return;
    if (buf[e] === 44) e = lastNonSpace(buf, s, e);
    else if (buf[s] === 44) s = firstNonSpace(buf, s + 1, e + 1); // leading-comma layout
    if (this.#index < this.fromRow) {
      this.#index++;
      return;
    }
    this.#batch.texts.push(buf.toString('utf8', s, e + 1));
    this.#index++;
    if (this.#batch.texts.length >= this.batchSize) {
      this.ready.push(this.#batch);
      this.#batch = new LineBatch(this.path, this.table, this.#index);
    }
  };

  /** The last, partly filled batch (null when empty). */
  rest(): RowBatch | null {
    return this.#batch.texts.length > 0 ? this.#batch : null;
  }
}

export async function* emptyRows(): AsyncGenerator<RowBatch> {}

/**
 * One table's rows from `stream`, which holds the table's `bytes` bytes of row lines (and maybe
 * more, which is not read), in batches of at most `batchSize`, from row `fromRow`.
 */
export async function* readRowLines(
  stream: Readable,
  bytes: number,
  table: string,
  batchSize: number,
  path: string,
  fromRow = 0,
): AsyncGenerator<RowBatch> {
  const batcher = new LineBatcher(path, table, batchSize, fromRow);
  const splitter = new LineSplitter(batcher.onLine);
  const ready = batcher.ready;
  let left = bytes;
  try {
    for await (const chunk of stream) {
      const buf = chunk as Buffer;
      const last = buf.length >= left;
      splitter.push(last ? buf.subarray(0, left) : buf);
      left -= buf.length;
      while (ready.length > 0) yield ready.shift()!;
      if (last) break;
    }
    splitter.end();
    while (ready.length > 0) yield ready.shift()!;
    const rest = batcher.rest();
    if (rest) yield rest;
  } finally {
    stream.destroy();
  }
}
