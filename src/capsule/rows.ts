/**
 * Reading a capsule for materialize: the header first, then each table's rows in LOAD order
 * (which is not the order of tables in the file), with bounded memory.
 *
 * Fast path ("line layout", what our exporter writes): inside `"tables": {…}` every row is one
 * line (trailing or leading commas). One index pass over the bytes (line-index.ts) finds each
 * table's byte range and row count without parsing rows; each table is then streamed from its
 * range (row-lines.ts; a plain file is read with a seek; gzip and encrypted files are decoded by
 * one stream the tables share, decoded-text.ts, reopened only when a table comes before the
 * current position).
 *
 * Generic path (any other JSON layout, e.g. the original tool's pretty-printed capsules): one pass
 * with the streaming tokenizer (capsule/reader.ts) spools every table's rows as one-row-per-line
 * exact JSON into a temporary directory, which is then read like the fast path.
 *
 * Row lines are parsed with the native JSON.parse unless the line holds a number JSON.parse could
 * change (a fraction, an exponent, 16+ digits, -0); those lines go through the exact parser
 * (row-lines.ts).
 */
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { InputError } from '../errors.js';
import { parseExact, stringifyExact } from '../util/exact-json.js';
import { issueLines, issuesError } from '../util/zod-issues.js';
import { DecodedText } from './decoded-text.js';
import { type LineLayout, scanLineLayout } from './line-index.js';
import { detectEncoding, type OpenOptions, openCapsuleText } from './open.js';
import { plainHeader, readCapsule } from './reader.js';
import { emptyRows, type RowBatch, readRowLines } from './row-lines.js';
import { assumeRedaction, type CapsuleHeader, capsuleHeaderSchema } from './schema.js';

export { EXACT_ROW, parseRowLine, type RowBatch, type RowObject } from './row-lines.js';

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

/** Opens a capsule for materialize: tries the line layout, falls back to the generic spool. */
export async function indexCapsule(path: string, options: OpenOptions = {}): Promise<IndexedCapsule> {
  const lines = await indexLineLayout(path, options);
  if (lines) return lines;
  return spoolGeneric(path, options);
}

// ---------------------------------------------------------------------------------------------
// Line layout

async function indexLineLayout(path: string, options: OpenOptions): Promise<IndexedCapsule | null> {
  const encoding = await detectEncoding(path);
  // Plain files: smaller reads than openCapsuleText's (less memory; the scan is not I/O bound).
  const stream =
    encoding === 'json'
      ? createReadStream(path, { highWaterMark: 1 << 18 })
      : await openCapsuleText(path, options);
  const layout = await scanLineLayout(path, stream);
  if (!layout) return null;
  let raw: unknown;
  try {
    raw = parseExact(layout.headerLines.join('\n'));
  } catch {
    return null; // not our layout after all (e.g. the header itself is odd); the generic path reports errors
  }
  return lineLayoutCapsule(path, options, validateHeader(path, raw), layout, encoding === 'json');
}

function lineLayoutCapsule(
  path: string,
  options: OpenOptions,
  header: CapsuleHeader,
  { counts, ranges }: LineLayout,
  plain: boolean,
): IndexedCapsule {
  // gzip / encrypted: one decoding stream shared by the tables, so tables read in file order
  // (the usual load order) decode the file once in all, not once per table.
  const decoded = plain ? null : new DecodedText(() => openCapsuleText(path, options));
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
      return readRowLines(stream, r.end - r.start, t, batchSize, path, fromRow);
    },
    close: async () => decoded?.close(),
  };
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
        return readRowLines(stream, f.bytes, t, batchSize, path, fromRow);
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
