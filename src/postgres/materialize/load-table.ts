/**
 * Loading one table's rows into the target, inside the caller's transaction.
 *
 * A `TableLoader` reads the table's row batches and groups the rows into segments of consecutive
 * rows with the same set of keys (load/segment.ts), so a column a row leaves out gets the column's
 * DEFAULT (not NULL). Each segment goes to the strategy's sink (load/sink.ts):
 * - `copy` (load/copy-sink.ts): one `COPY t (cols) FROM STDIN` per segment; rows the COPY fast
 *   path can encode from their line's text (copy/row-line-copy.ts) never become objects.
 * - `jsonb` (load/jsonb-sink.ts): one `insert … select … from jsonb_populate_recordset(…)` per
 *   chunk of at most `chunkSize` rows.
 * Tables with composite-typed columns always take the jsonb path (JSON objects cannot be COPY
 * text without the row type's field order; jsonb_populate_recordset knows it).
 *
 * Referential-closure rows (`reference`) are reference data: inserted with ON CONFLICT DO NOTHING
 * so a parent row the target already holds is kept; their keys are collected for the presence
 * check and their content hashed as the capsule holds them.
 *
 * Errors name table, chunk, row index and the server's message, never the row's values
 * (load-error.ts).
 */
import type pg from 'pg';
import {
  closeJsonColumns,
  type JsonColumnEncoding,
  jsonEncodedColumns,
  openJsonColumns,
} from '../../capsule/encoded-json.js';
import { type IntegrityAlgorithm, TableHasher } from '../../capsule/integrity.js';
import type { SubjectRewriter } from '../../capsule/rewrite.js';
import type { RowBatch, RowObject } from '../../capsule/rows.js';
import { InterruptedError } from '../../errors.js';
import { type ExactJson, stringifyExact } from '../../util/exact-json.js';
import { UnstorableValueError } from '../copy/copy-encoding.js';
import { copyLineFromScan, fastSegment, RowLineScanner, type RowScan } from '../copy/row-line-copy.js';
import { CopySink } from './load/copy-sink.js';
import { JsonbSink } from './load/jsonb-sink.js';
import { type Segment, SegmentPlanner, sameKeys } from './load/segment.js';
import type { RowSink, SinkContext } from './load/sink.js';
import { hasSqlState, loadError } from './load-error.js';
import type { TargetTable } from './target-catalog.js';

export type LoadStrategy = 'jsonb' | 'copy';

export interface TableLoadInput {
  client: pg.Client;
  table: string;
  target: TargetTable;
  strategy: LoadStrategy;
  chunkSize: number;
  batches: AsyncIterable<RowBatch>;
  rewriter: SubjectRewriter | null;
  /** Cancellation: checked between batches (materialize-capsule.ts also cancels the running statement). */
  signal?: AbortSignal;
  /** The server's reason when the connection was closed under us (see materialize-capsule.ts). */
  serverError?: () => unknown;
  /** Called after each chunk is sent (awaited). */
  onChunk?: (info: { table: string; chunk: number; rowsLoaded: number }) => void | Promise<void>;
  /** Columns the capsule carries as text (schemaVersion 2 `columnEncodings` of this table). */
  encodings?: Readonly<Record<string, string>>;
  /** Row index (within the table) of the first row: closure rows follow the table's graph rows. */
  firstRow?: number;
  /**
   * Load as reference rows (referential closure): ON CONFLICT DO NOTHING, count what was inserted,
   * collect each row's `keyColumns` values (for the presence check) and, with `hash` (the capsule's
   * integrity algorithm), the content hash of the rows as the capsule holds them.
   */
  reference?: { keyColumns: readonly string[] | null; hash: IntegrityAlgorithm | null };
}

export interface ReferenceLoadResult {
  /** Rows actually inserted; the others were already present (some unique key) and kept. */
  inserted: number;
  /** Per row, its key values (after a subject rewrite); empty without key columns. */
  keys: Record<string, unknown>[];
  /** Content hash of the rows as read from the capsule (null unless asked). */
  hash: TableHasher | null;
}

export interface TableLoadResult {
  rows: number;
  /** Strategy actually used (copy tables with composite columns load through jsonb). */
  strategy: LoadStrategy;
  /** Every capsule column loaded (the union over all rows). */
  columns: string[];
  /** Capsule columns the target does not have (not loaded). */
  unknownColumns: string[];
  /** Generated columns present in the capsule (Postgres computes them; not loaded). */
  generatedColumns: string[];
  statements: number;
  /** Only for `reference` loads. */
  reference: ReferenceLoadResult | null;
}

/** Loads one table's rows (see the header). */
export function loadTable(input: TableLoadInput): Promise<TableLoadResult> {
  return new TableLoader(input).run();
}

/**
 * The subject rewrite, also inside json/jsonb values carried as text (parsed for it; a value the
 * rewrite did not change keeps its exact text).
 */
function rewriteRow(
  rewriter: SubjectRewriter,
  row: RowObject,
  jsonCols: Map<string, JsonColumnEncoding> | null,
): void {
  if (!jsonCols) {
    rewriter.rewriteObject(row);
    return;
  }
  const r = row as Record<string, ExactJson>;
  const opened = openJsonColumns(r, jsonCols);
  const before = new Map([...jsonCols.keys()].filter((c) => c in r).map((c) => [c, stringifyExact(r[c])]));
  rewriter.rewriteObject(row);
  closeJsonColumns(r, jsonCols, opened, (c) => before.has(c) && before.get(c) !== stringifyExact(r[c]));
}

/** One table's load: reads the batches, plans segments, hands rows to the strategy's sink. */
class TableLoader implements SinkContext {
  readonly client: pg.Client;
  readonly table: string;
  readonly reference: ReferenceLoadResult | null;
  rowIndex: number;
  statements = 0;
  private strategy: LoadStrategy;
  private sink: RowSink;
  /** The sink while the table loads with COPY (null after a switch to jsonb). */
  private copy: CopySink | null;
  private segment: Segment | null = null;
  private readonly segments: SegmentPlanner;
  private readonly jsonCols: Map<string, JsonColumnEncoding> | null;
  /** COPY from the row lines' text (not when rows are rewritten or are closure rows: those need the objects). */
  private readonly scanner: RowLineScanner | null;
  private readonly firstRow: number;
  private lastChunkReported: number;

  constructor(private readonly input: TableLoadInput) {
    this.client = input.client;
    this.table = input.table;
    this.strategy = input.strategy;
    this.firstRow = input.firstRow ?? 0;
    this.rowIndex = this.firstRow;
    this.lastChunkReported = Math.floor(this.firstRow / input.chunkSize);
    const hash = input.reference?.hash;
    this.reference = input.reference
      ? { inserted: 0, keys: [], hash: hash ? TableHasher.for(hash) : null }
      : null;
    this.jsonCols = jsonEncodedColumns(input.encodings);
    this.segments = new SegmentPlanner(input.target, input.encodings);
    const rewritten = Boolean(input.rewriter);
    this.copy = this.strategy === 'copy' ? new CopySink(this, rewritten) : null;
    this.sink = this.copy ?? new JsonbSink(this, input.chunkSize, rewritten);
    this.scanner = this.copy && !input.rewriter && !this.reference ? new RowLineScanner() : null;
  }

  async run(): Promise<TableLoadResult> {
    const { input } = this;
    try {
      for await (const batch of input.batches) {
        if (input.signal?.aborted) throw new InterruptedError(`loading ${this.table} was interrupted`);
        await this.loadBatch(batch);
        // Keep the server busy: hand over what this batch produced.
        await this.sink.flush();
        await this.reportChunks();
      }
      await this.sink.close();
    } catch (err) {
      await this.sink.abort();
      // NUL or a lone surrogate (copy-encoding.ts): name the table, row and column like a server error.
      if (err instanceof UnstorableValueError)
        throw loadError(this.table, input.chunkSize, err, this.rowIndex, null);
      throw err;
    }
    if (input.onChunk && this.rowIndex % input.chunkSize !== 0)
      await input.onChunk({
        table: this.table,
        chunk: this.lastChunkReported + 1,
        rowsLoaded: this.rowIndex,
      });
    return {
      rows: this.rowIndex - this.firstRow,
      strategy: this.strategy,
      columns: [...this.segments.loaded],
      unknownColumns: [...this.segments.unknown],
      generatedColumns: [...this.segments.generated],
      statements: this.statements,
      reference: this.reference,
    };
  }

  fail(err: unknown, row: number | null, segmentFirstRow: number | null): never {
    const reason = hasSqlState(err) ? err : (this.input.serverError?.() ?? err);
    throw loadError(this.table, this.input.chunkSize, reason, row, segmentFirstRow);
  }

  /** The hot loop: per row no closure and no promise unless a sink sends. */
  private async loadBatch(batch: RowBatch): Promise<void> {
    const texts = batch.texts;
    const scanner = this.copy !== null ? this.scanner : null;
    const fast = scanner !== null && texts.length > 0;
    const count = fast ? texts.length : batch.rows.length;
    for (let b = 0; b < count; b++) {
      let scan: RowScan | null = null;
      if (fast) {
        // Text-level fast path: the row line straight to a COPY line (no row object).
        scan = scanner.scanRowLine(texts[b]!);
        const layout = scan && this.copy ? this.copy.fast : null;
        if (layout) {
          const line = copyLineFromScan(texts[b]!, scan!, layout);
          if (line !== null) {
            const sent = this.copy!.writeLine(line);
            this.rowIndex++;
            if (sent) await sent;
            continue;
          }
        }
      }
      const row = batch.rows[b]!;
      this.prepareRow(row);
      if (!this.segment || !sameKeys(this.segment, row)) await this.startSegment(row, scan, texts[b]!);
      const sent = this.sink.write(row, texts[b]!);
      this.rowIndex++;
      if (sent) await sent;
    }
  }

  /** The closure hash (of the row as the capsule holds it), the subject rewrite, the closure key. */
  private prepareRow(row: RowObject): void {
    const ref = this.reference;
    ref?.hash?.add(row);
    if (this.input.rewriter) rewriteRow(this.input.rewriter, row, this.jsonCols);
    const keyColumns = this.input.reference?.keyColumns;
    if (ref && keyColumns) {
      const key: Record<string, unknown> = {};
      for (const k of keyColumns) key[k] = row[k] ?? null;
      ref.keys.push(key);
    }
  }

  /** Ends the current segment and begins the one `row` starts (switching to jsonb if it must). */
  private async startSegment(row: RowObject, scan: RowScan | null, text: string): Promise<void> {
    await this.sink.end();
    const segment = this.segments.plan(row, this.rowIndex);
    if (segment.needsJsonb && this.copy) {
      this.strategy = 'jsonb';
      this.copy = null;
      this.sink = new JsonbSink(this, this.input.chunkSize, Boolean(this.input.rewriter));
    }
    if (scan && this.copy) segment.fast = fastSegment(text, scan, segment.columns, segment.codecs);
    this.segment = segment;
    await this.sink.begin(segment);
  }

  private async reportChunks(): Promise<void> {
    const { onChunk, chunkSize } = this.input;
    if (!onChunk) return;
    const chunk = Math.floor(this.rowIndex / chunkSize);
    while (this.lastChunkReported < chunk) {
      this.lastChunkReported++;
      await onChunk({ table: this.table, chunk: this.lastChunkReported, rowsLoaded: this.rowIndex });
    }
  }
}
