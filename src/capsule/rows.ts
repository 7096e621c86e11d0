/**
 * Reading a capsule for materialize: the header first, then each table's rows in LOAD order
 * (which is not the order of tables in the file), with bounded memory.
 *
 * Fast path ("line layout", what our exporter writes): inside `"tables": {…}` every row is one
 * line (trailing or leading commas). One index pass over the bytes finds each table's byte range
 * and row count without parsing rows; each table is then streamed from its range (a plain file is
 * read with a seek; gzip and encrypted files are decoded by one stream the tables share, reopened
 * only when a table comes before the current position).
 *
 * Generic path (any other JSON layout, e.g. the original tool's pretty-printed capsules): one pass
 * with the streaming tokenizer (capsule/reader.ts) spools every table's rows as one-row-per-line
 * exact JSON into a temporary directory, which is then read like the fast path.
 *
 * Row lines are parsed with the native JSON.parse unless the line holds a number JSON.parse could
 * change (a fraction, an exponent, 16+ digits, -0); those lines go through the exact parser.
 */
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { InputError } from '../errors.js';
import { isLosslessNumber, parseExact, stringifyExact } from '../util/exact-json.js';
import { issueLines, issuesError } from '../util/zod-issues.js';
import { MAX_VALUE_BYTES, RowLineChecker, RowStreamChecker, Utf8Stream, utf8Error } from './byte-check.js';
import { detectEncoding, type OpenOptions, openCapsuleText } from './open.js';
import { plainHeader, readCapsule } from './reader.js';
import { assumeRedaction, type CapsuleHeader, capsuleHeaderSchema } from './schema.js';

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

interface ByteRange {
  start: number;
  end: number;
}

export interface IndexedCapsule {
  header: CapsuleHeader;
  /** Row count per table, in file order. */
  counts: Record<string, number>;
  /** "lines" when the file itself is one row per line, "spooled" after the generic pass. */
  layout: 'lines' | 'spooled';
  /**
   * Streams one table's rows in batches (at most `batchSize` rows each), from row `fromRow`
   * (default 0; earlier rows are skipped without being parsed).
   */
  rows(table: string, batchSize: number, fromRow?: number): AsyncGenerator<RowBatch>;
  /** Removes temporary files. */
  close(): Promise<void>;
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

/** Opens a capsule for materialize: tries the line layout, falls back to the generic spool. */
export async function indexCapsule(path: string, options: OpenOptions = {}): Promise<IndexedCapsule> {
  const lines = await indexLineLayout(path, options);
  if (lines) return lines;
  return spoolGeneric(path, options);
}

// ---------------------------------------------------------------------------------------------
// Line layout

const TABLES_OPEN = /^\s*"tables"\s*:\s*\{\s*$/;
const TABLE_OPEN = /^\s*("(?:[^"\\]|\\.)*")\s*:\s*\[\s*$/;
const TABLE_EMPTY = /^\s*("(?:[^"\\]|\\.)*")\s*:\s*\[\s*\]\s*,?\s*$/;
const TABLE_CLOSE = /^\s*\]\s*,?\s*$/;
const OBJECT_CLOSE = /^\s*\}\s*,?\s*$/;

class NotLineLayout extends Error {}

/** A line longer than this is also handed to `onLongLine` piece by piece, as it arrives. */
const LONG_LINE = 16 << 20;

/**
 * Calls `onLine(buf, start, end, offset)` for every line (without "\n"); offset = byte offset of
 * the line. `onChunk` sees every chunk first (UTF-8 check); `onLongLine` sees the pieces of a line
 * over LONG_LINE bytes as they arrive, so a huge row is refused before it is buffered whole.
 */
async function forEachLine(
  stream: Readable,
  onLine: (buf: Buffer, start: number, end: number, offset: number) => unknown,
  onChunk?: (buf: Buffer) => void,
  onLongLine?: (piece: Buffer, lineOffset: number, first: boolean, length: number) => void,
): Promise<void> {
  // A line longer than a chunk: its pieces, joined once at its end (not re-copied per chunk).
  let carryParts: Buffer[] = [];
  let carryLength = 0;
  let carry: Buffer | null = null;
  let long = false;
  let offset = 0; // byte offset of the current chunk in the whole text
  try {
    for await (const chunk of stream) {
      const buf = chunk as Buffer;
      onChunk?.(buf);
      const base = offset;
      offset += buf.length;
      let pos = 0;
      if (carry) {
        // Finish the line split across chunks without copying the whole chunk.
        const nl = buf.indexOf(10);
        const lineOffset = base - carryLength;
        if (nl < 0) {
          carryParts.push(buf);
          carryLength += buf.length;
          if (onLongLine && carryLength > LONG_LINE) {
            if (long) onLongLine(buf, lineOffset, false, carryLength);
            else {
              long = true;
              for (let i = 0; i < carryParts.length; i++)
                onLongLine(carryParts[i]!, lineOffset, i === 0, carryLength);
            }
          }
          continue;
        }
        if (long) onLongLine!(buf.subarray(0, nl), lineOffset, false, carryLength + nl);
        long = false;
        carryParts.push(buf.subarray(0, nl));
        const line = Buffer.concat(carryParts, carryLength + nl);
        carryParts = [];
        carry = null;
        if (onLine(line, 0, line.length, lineOffset) === false) return;
        pos = nl + 1;
      }
      for (;;) {
        const nl = buf.indexOf(10, pos);
        if (nl < 0) break;
        if (onLine(buf, pos, nl, base + pos) === false) return;
        pos = nl + 1;
      }
      carry = pos < buf.length ? Buffer.from(buf.subarray(pos)) : null; // do not pin the whole chunk
      if (carry) {
        carryParts = [carry];
        carryLength = carry.length;
      }
    }
    if (carry) {
      const line = carryParts.length === 1 ? carry : Buffer.concat(carryParts, carryLength);
      if (line.length) onLine(line, 0, line.length, offset - line.length);
    }
  } finally {
    stream.destroy();
  }
}

function firstNonSpace(buf: Buffer, start: number, end: number): number {
  while (start < end && (buf[start] === 32 || buf[start] === 9 || buf[start] === 13)) start++;
  return start;
}
function lastNonSpace(buf: Buffer, start: number, end: number): number {
  let e = end - 1;
  while (e >= start && (buf[e] === 32 || buf[e] === 9 || buf[e] === 13)) e--;
  return e;
}

async function indexLineLayout(path: string, options: OpenOptions): Promise<IndexedCapsule | null> {
  // Plain files: smaller reads than openCapsuleText's (less memory; the scan is not I/O bound).
  const stream =
    (await detectEncoding(path)) === 'json'
      ? createReadStream(path, { highWaterMark: 1 << 18 })
      : await openCapsuleText(path, options);
  const headerLines: string[] = [];
  const ranges = new Map<string, ByteRange>();
  // No prototype: a table may be named `toString`, `constructor` or `__proto__` (plain identifiers),
  // which `in` / assignment on a `{}` would misread (test/property/capsule-roundtrip.property.test.ts).
  const counts: Record<string, number> = Object.create(null);
  let state: 'header' | 'tables' | 'table' | 'after' = 'header';
  let table = '';
  let bom = true;
  // Every row is checked here, before materialize connects (capsule/byte-check.ts: UTF-8 per
  // chunk, then per row duplicate keys, nesting and sizes): rows go to COPY as text later.
  const utf8 = new Utf8Stream();
  let seen = 0;
  let badUtf8 = -1;
  const rowChecker = new RowLineChecker(path);
  /** The row being read when it is longer than LONG_LINE (checked as it streams in). */
  let longRow: RowStreamChecker | null = null;
  try {
    await forEachLine(
      stream,
      (buf, start, end, offset) => {
        const lineEnd = offset + (end - start);
        if (bom) {
          bom = false;
          if (buf[start] === 0xef && buf[start + 1] === 0xbb && buf[start + 2] === 0xbf) start += 3;
        }
        if (state === 'table') {
          let s = firstNonSpace(buf, start, end);
          const e = lastNonSpace(buf, start, end);
          // One row per line with leading commas (`,{…}`) is the same layout.
          if (buf[s] === 44 /* , */ && counts[table]! > 0) s = firstNonSpace(buf, s + 1, end);
          if (buf[s] === 123 /* { */) {
            const last = buf[e] === 44 /* , */ ? lastNonSpace(buf, s, e) : e;
            if (buf[last] !== 125 /* } */) throw new NotLineLayout();
            const index = counts[table]!;
            const at = offset + (s - start);
            if (badUtf8 >= 0 && badUtf8 <= lineEnd) {
              const col = rowChecker.columnAt(buf, s, last + 1, s + (badUtf8 - at));
              throw utf8Error(path, badUtf8, `tables.${table}[${index}]${col === null ? '' : `.${col}`}`);
            }
            if (longRow)
              longRow = null; // checked as it streamed in
            else rowChecker.check(buf, s, last + 1, table, index, at);
            counts[table] = index + 1;
            return;
          }
          if (buf[s] === 93 /* ] */ && TABLE_CLOSE.test(buf.toString('utf8', start, end))) {
            ranges.get(table)!.end = offset;
            state = 'tables';
            return;
          }
          throw new NotLineLayout();
        }
        if (badUtf8 >= 0 && badUtf8 <= lineEnd) throw utf8Error(path, badUtf8, null);
        const line = buf.toString('utf8', start, end);
        if (state === 'header' || state === 'after') {
          if (state === 'header' && TABLES_OPEN.test(line)) {
            state = 'tables';
            headerLines.push(line);
            return;
          }
          headerLines.push(line);
          return;
        }
        // state === 'tables'
        let m = TABLE_OPEN.exec(line);
        if (m) {
          table = JSON.parse(m[1]!) as string;
          if (Object.hasOwn(counts, table)) throw new InputError(`${path}: tables.${table}: appears twice`);
          counts[table] = 0;
          ranges.set(table, { start: offset + Buffer.byteLength(line) + 1, end: 0 });
          state = 'table';
          return;
        }
        m = TABLE_EMPTY.exec(line);
        if (m) {
          table = JSON.parse(m[1]!) as string;
          if (Object.hasOwn(counts, table)) throw new InputError(`${path}: tables.${table}: appears twice`);
          counts[table] = 0;
          ranges.set(table, { start: 0, end: 0 });
          return;
        }
        if (OBJECT_CLOSE.test(line)) {
          headerLines.push(line);
          state = 'after';
          return;
        }
        throw new NotLineLayout();
      },
      (chunk) => {
        if (badUtf8 < 0) badUtf8 = utf8.write(chunk, seen);
        seen += chunk.length;
      },
      (piece, lineOffset, first, length) => {
        if (state !== 'table') {
          if (length > MAX_VALUE_BYTES)
            throw new InputError(
              `${path}: a header line is larger than ${MAX_VALUE_BYTES >> 20} MiB (the limit per value)`,
            );
          return;
        }
        if (first) longRow = new RowStreamChecker(path, table, counts[table]!, lineOffset);
        longRow!.write(piece);
      },
    );
    if (badUtf8 < 0) badUtf8 = utf8.end(seen);
    if (badUtf8 >= 0) throw utf8Error(path, badUtf8, null);
  } catch (err) {
    if (err instanceof NotLineLayout) return null;
    throw err;
  }
  if ((state as string) !== 'after') return null;
  let raw: unknown;
  try {
    raw = parseExact(headerLines.join('\n'));
  } catch {
    return null; // not our layout after all (e.g. the header itself is odd); the generic path reports errors
  }
  const header = validateHeader(path, raw);
  const encoding = await detectEncoding(path);
  // gzip / encrypted: one decoding stream shared by the tables, so tables read in file order
  // (the usual load order) decode the file once in all, not once per table.
  const decoded = encoding === 'json' ? null : new DecodedText(() => openCapsuleText(path, options));
  return {
    header,
    counts,
    layout: 'lines',
    rows: (t, batchSize, fromRow = 0) => {
      const r = ranges.get(t);
      if (!r || r.end <= r.start) return emptyRows();
      const stream = decoded
        ? Readable.from(decoded.range(r.start, r.end), { objectMode: true })
        : createReadStream(path, { start: r.start, end: r.end - 1, highWaterMark: 1 << 18 });
      return parseLines(stream, r.start, r, t, batchSize, path, fromRow);
    },
    close: async () => decoded?.close(),
  };
}

/**
 * A decoded (gunzipped / decrypted) capsule text read by byte ranges. A range at or after the
 * current position continues the open stream; an earlier one reopens it from the start.
 */
class DecodedText {
  #stream: Readable | null = null;
  #iter: AsyncIterator<Buffer> | null = null;
  /** Text offset of `#pending[0]`, or of the stream's next chunk when nothing is pending. */
  #pos = 0;
  #pending: Buffer | null = null;
  #reader = 0;

  constructor(private readonly open: () => Promise<Readable>) {}

  /** The bytes [start, end), in chunks. One range is read at a time. */
  async *range(start: number, end: number): AsyncGenerator<Buffer> {
    const me = ++this.#reader;
    if (!this.#iter || this.#pos > start) await this.#reopen();
    while (this.#pos < end) {
      if (me !== this.#reader) throw new Error('capsule ranges read concurrently');
      const buf = this.#pending ?? ((await this.#iter!.next()).value as Buffer | undefined);
      this.#pending = null;
      if (!buf) return;
      const at = this.#pos;
      if (at + buf.length <= start) {
        this.#pos = at + buf.length;
        continue;
      }
      const to = Math.min(buf.length, end - at);
      if (to < buf.length) this.#pending = buf.subarray(to);
      this.#pos = at + to;
      yield buf.subarray(Math.max(0, start - at), to);
    }
  }

  async #reopen(): Promise<void> {
    this.close();
    this.#stream = await this.open();
    this.#iter = this.#stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    this.#pos = 0;
    this.#pending = null;
  }

  close(): void {
    this.#stream?.destroy();
    this.#stream = null;
    this.#iter = null;
  }
}

/**
 * A batch of row lines whose objects are parsed on first use of `rows`: the COPY fast path
 * (row-line-copy.ts) encodes most lines from their text and never needs them.
 */
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

async function* emptyRows(): AsyncGenerator<RowBatch> {}

async function* parseLines(
  stream: Readable,
  base: number,
  range: ByteRange,
  table: string,
  batchSize: number,
  path: string,
  fromRow = 0,
): AsyncGenerator<RowBatch> {
  // A line longer than a chunk: its pieces, joined once at its end (linear in the line's size).
  let carry: Buffer[] | null = null;
  let carryLength = 0;
  const joinCarry = (tail?: Buffer): Buffer => {
    const parts = tail ? [...carry!, tail] : carry!;
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, carryLength + (tail?.length ?? 0));
  };
  let offset = base;
  let batch = new LineBatch(path, table, fromRow);
  const ready: RowBatch[] = [];
  let index = 0;
  const handle = (buf: Buffer, start: number, end: number) => {
    let s = firstNonSpace(buf, start, end);
    let e = lastNonSpace(buf, start, end);
    if (e < s) return;
    if (buf[e] === 44) e = lastNonSpace(buf, s, e);
    else if (buf[s] === 44) s = firstNonSpace(buf, s + 1, e + 1); // leading-comma layout
    if (index < fromRow) {
      index++;
      return;
    }
    batch.texts.push(buf.toString('utf8', s, e + 1));
    index++;
    if (batch.texts.length >= batchSize) {
      ready.push(batch);
      batch = new LineBatch(path, table, index);
    }
  };
  try {
    for await (const chunk of stream) {
      const buf = chunk as Buffer;
      const bufBase = offset;
      offset += buf.length;
      if (offset <= range.start) continue;
      let pos = Math.max(0, range.start - bufBase);
      const stop = Math.min(buf.length, range.end - bufBase);
      if (carry) {
        // Finish the line split across chunks without copying the whole chunk.
        const nl = buf.indexOf(10);
        if (nl < 0 || nl >= stop) {
          const piece = buf.subarray(0, stop);
          carry.push(piece);
          carryLength += piece.length;
          if (bufBase + stop >= range.end) break;
          continue;
        }
        const line = joinCarry(buf.subarray(0, nl));
        carry = null;
        handle(line, 0, line.length);
        pos = nl + 1;
      }
      for (;;) {
        const nl = buf.indexOf(10, pos);
        if (nl < 0 || nl >= stop) break;
        handle(buf, pos, nl);
        pos = nl + 1;
      }
      while (ready.length > 0) yield ready.shift()!;
      if (bufBase + stop >= range.end) {
        if (pos < stop) handle(buf, pos, stop);
        carry = null;
        break;
      }
      if (pos < buf.length) {
        carry = [Buffer.from(buf.subarray(pos))]; // do not pin the whole chunk
        carryLength = buf.length - pos;
      } else carry = null;
    }
    if (carry && carryLength > 0) {
      const line = joinCarry();
      handle(line, 0, line.length);
    }
    while (ready.length > 0) yield ready.shift()!;
    if (batch.texts.length > 0) yield batch;
  } finally {
    stream.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// Generic layout: spool each table as one row per line.

async function spoolGeneric(path: string, options: OpenOptions): Promise<IndexedCapsule> {
  const dir = await mkdtemp(join(tmpdir(), 'replay-materialize-'));
  const files = new Map<string, { path: string; out: WriteStream; bytes: number }>();
  const closeAll = async () => {
    await Promise.all(
      [...files.values()].map(
        (f) => new Promise<void>((resolve) => (f.out.closed ? resolve() : f.out.end(() => resolve()))),
      ),
    );
  };
  try {
    const scan = await readCapsule(
      path,
      async (e) => {
        if (e.kind === 'tableStart') {
          const file = join(dir, `${files.size}.ndjson`);
          files.set(e.table, { path: file, out: createWriteStream(file), bytes: 0 });
        } else if (e.kind === 'row') {
          const f = files.get(e.table)!;
          const line = `${stringifyExact(e.row)}\n`;
          f.bytes += Buffer.byteLength(line);
          if (!f.out.write(line)) await new Promise<void>((r) => f.out.once('drain', () => r()));
        }
      },
      options,
    );
    await closeAll();
    return {
      header: scan.header,
      counts: scan.counts,
      layout: 'spooled',
      rows: (t, batchSize, fromRow = 0) => {
        const f = files.get(t);
        if (!f || f.bytes === 0) return emptyRows();
        const stream = createReadStream(f.path, { highWaterMark: 1 << 18 });
        return parseLines(stream, 0, { start: 0, end: f.bytes }, t, batchSize, path, fromRow);
      },
      close: () => rm(dir, { recursive: true, force: true }),
    };
  } catch (err) {
    await closeAll().catch(() => {});
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

function validateHeader(path: string, raw: unknown): CapsuleHeader {
  const plain = plainHeader(raw);
  if (!plain || typeof plain !== 'object' || Array.isArray(plain))
    throw new InputError(`${path}: not a valid capsule: expected a JSON object`);
  const parsed = capsuleHeaderSchema.safeParse(assumeRedaction(plain));
  if (!parsed.success) {
    throw issuesError(path, 'not a valid capsule', issueLines(parsed.error));
  }
  return parsed.data;
}
