/**
 * Loading one table's rows into the target, inside the caller's transaction.
 *
 * Rows are grouped into segments of consecutive rows with the same set of keys, so a column a row
 * leaves out gets the column's DEFAULT (not NULL) in both strategies:
 * - `copy`: one `COPY t (cols) FROM STDIN` per segment, rows streamed in large writes; a COPY is
 *   one statement, so foreign keys between rows of the same table are checked at its end.
 * - `jsonb`: one `insert … select … from jsonb_populate_recordset(null::t, $1)` per chunk of at
 *   most `chunkSize` rows (with OVERRIDING SYSTEM VALUE for GENERATED ALWAYS identity columns).
 * Tables with composite-typed columns always take the jsonb path (JSON objects cannot be COPY
 * text without the row type's field order; jsonb_populate_recordset knows it).
 *
 * Referential-closure rows (`reference`) are reference data: inserted with ON CONFLICT DO NOTHING
 * so a parent row the target already holds is kept. COPY cannot skip conflicts, so with `copy`
 * each segment is COPYed into a temporary stage table and inserted from there.
 *
 * Errors name table, chunk, row index and the server's message, never the row's values.
 */
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import {
  closeJsonColumns,
  type JsonColumnEncoding,
  jsonEncodedColumns,
  openJsonColumns,
} from '../../capsule/encoded-json.js';
import { type IntegrityAlgorithm, TableHasher } from '../../capsule/integrity.js';
import type { SubjectRewriter } from '../../capsule/rewrite.js';
import type { RowBatch, RowObject } from '../../capsule/rows.js';
import { FailureError, InterruptedError } from '../../errors.js';
import { type ExactJson, stringifyExact } from '../../util/exact-json.js';
import { type ColumnCodec, copyLine, UnstorableValueError } from '../copy/copy-encoding.js';
import {
  copyLineFromScan,
  type FastSegment,
  fastSegment,
  RowLineScanner,
  type RowScan,
} from '../copy/row-line-copy.js';
import { foreignKeyDetail } from './fk-error.js';
import {
  CLOSURE_STAGE_TABLE,
  copySql,
  createClosureStageSql,
  insertFromClosureStageSql,
  jsonbInsertSql,
  tableSql,
} from './sql.js';
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
  /** Cancellation: checked between batches (index.ts also cancels the running statement). */
  signal?: AbortSignal;
  /** The server's reason when the connection was closed under us (see index.ts). */
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

const CHUNK_SAVEPOINT = 'replay_chunk';

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

/** Up to this many characters are collected before one write to the COPY stream. */
const COPY_WRITE_CHARS = 1 << 18;

interface Segment {
  keys: Set<string>;
  /** Columns loaded (capsule keys the target has and that are not generated). */
  columns: string[];
  codecs: ColumnCodec[];
  overriding: boolean;
  /** json/jsonb columns carried as text -> their type (jsonb strategy, see jsonbInsertSql). */
  textJson: Map<string, string>;
  firstRow: number;
  /** The COPY fast path's layout for rows with the same keys in the same order (null: none). */
  fast?: FastSegment | null;
}

export async function loadTable(input: TableLoadInput): Promise<TableLoadResult> {
  const { client, table, target, chunkSize } = input;
  const jsonCols = jsonEncodedColumns(input.encodings);
  const unknown = new Set<string>();
  const generated = new Set<string>();
  const loadedColumns = new Set<string>();
  let strategy = input.strategy;
  let statements = 0;
  const firstRow = input.firstRow ?? 0;
  let rowIndex = firstRow;
  const reference = input.reference;
  const refResult: ReferenceLoadResult | null = reference
    ? { inserted: 0, keys: [], hash: reference.hash ? TableHasher.for(reference.hash) : null }
    : null;
  let segment: Segment | null = null;
  let copy: CopyWriter | null = null;
  let pendingText: string[] = [];
  let pendingChars = 0;
  let jsonbRows: RowObject[] = [];
  let jsonbTexts: string[] = [];
  // jsonb: one chunk in flight while the next is read and encoded (resolves to its error, if any).
  let inflight: Promise<unknown> | null = null;
  // The savepoint a failed chunk rolls back to (to find its failing row), taken before each chunk.
  let savepointOpen = false;
  const awaitInflight = async () => {
    if (!inflight) return;
    const err = await inflight;
    inflight = null;
    if (err) throw err;
  };
  let lastChunkReported = Math.floor(firstRow / chunkSize);

  const makeSegment = (row: RowObject): Segment => {
    const keys = new Set(Object.keys(row));
    const columns: string[] = [];
    const codecs: ColumnCodec[] = [];
    const textJson = new Map<string, string>();
    let overriding = false;
    for (const k of keys) {
      const col = target.columns.get(k);
      if (!col) {
        unknown.add(k);
        continue;
      }
      if (col.generated) {
        generated.add(k);
        continue;
      }
      const encoding = input.encodings?.[k];
      // A composite carried as text is its record literal: COPY reads it.
      if (col.composite && strategy === 'copy' && encoding !== 'text') strategy = 'jsonb';
      if (col.identityAlways) overriding = true;
      columns.push(k);
      let codec = col.codec;
      if (encoding !== undefined && codec.kind === 'json') {
        codec = { ...codec, textForm: true };
        textJson.set(k, col.typeSql);
      }
      codecs.push(codec);
      loadedColumns.add(k);
    }
    return { keys, columns, codecs, overriding, textJson, firstRow: rowIndex };
  };

  const sameKeys = (seg: Segment, row: RowObject): boolean => {
    let n = 0;
    for (const k in row) {
      if (!seg.keys.has(k)) return false;
      n++;
    }
    return n === seg.keys.size;
  };

  const fail = (err: unknown, row: number | null, seg: Segment | null): never => {
    const code = (err as { code?: unknown })?.code;
    const reason =
      typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? err : (input.serverError?.() ?? err);
    throw loadError(table, chunkSize, reason, row, seg ? seg.firstRow : null);
  };

  const flushCopyText = async () => {
    if (!copy || pendingText.length === 0) return;
    const text = pendingText.join('');
    pendingText = [];
    pendingChars = 0;
    await copy.write(text);
  };

  const endCopy = async () => {
    if (!copy) return;
    const seg = segment!;
    try {
      await flushCopyText();
      await copy.end();
    } catch (err) {
      copy = null;
      fail(err, copyErrorRow(err, seg.firstRow), seg);
    }
    copy = null;
    if (refResult) {
      // Staged closure rows into the target, skipping rows it already holds.
      try {
        const r = await client.query(insertFromClosureStageSql(table, seg.columns, seg.overriding));
        refResult.inserted += r.rowCount ?? 0;
        await client.query(`drop table ${CLOSURE_STAGE_TABLE}`);
      } catch (err) {
        fail(err, null, seg);
      }
    }
  };

  const flushPending = async () => {
    try {
      await flushCopyText();
    } catch (err) {
      const seg = segment!;
      copy = null;
      fail(err, copyErrorRow(err, seg.firstRow), seg);
    }
  };

  // COPY from the row lines' text where possible (not when rows are rewritten or are closure
  // reference rows: those need the row objects).
  const scanner = input.strategy === 'copy' && !input.rewriter && !refResult ? new RowLineScanner() : null;

  const flushJsonb = async () => {
    if (jsonbRows.length === 0) return;
    const seg = segment!;
    const rows = jsonbRows;
    const texts = jsonbTexts;
    jsonbRows = [];
    jsonbTexts = [];
    const first = rowIndex - rows.length;
    if (seg.columns.length === 0) {
      await awaitInflight();
      // Every key unknown or generated: insert defaults for each row.
      for (let i = 0; i < rows.length; i++) {
        try {
          const r = await client.query(
            `insert into ${tableSql(table)} default values${refResult ? ' on conflict do nothing' : ''}`,
          );
          if (refResult) refResult.inserted += r.rowCount ?? 0;
        } catch (err) {
          fail(err, first + i, seg);
        }
      }
      return;
    }
    const sql = jsonbInsertSql(table, seg.columns, seg.overriding, refResult !== null, seg.textJson);
    // The rows' own JSON text when nothing changed them (no re-serialising); exact either way.
    const param =
      input.rewriter || texts.length !== rows.length ? stringifyExact(rows) : `[${texts.join(',')}]`;
    await awaitInflight();
    const send = async () => {
      try {
        if (!savepointOpen) {
          await client.query(`savepoint ${CHUNK_SAVEPOINT}`);
          savepointOpen = true;
        }
        const r = await client.query(sql, [param]);
        if (refResult) refResult.inserted += r.rowCount ?? 0;
      } catch (err) {
        const row = await findFailingRow(client, sql, rows).catch(() => null);
        fail(err, row === null ? null : first + row, { ...seg, firstRow: first });
      }
      // The next chunk's savepoint is taken now, in the same round trip as this one's release and
      // while the next chunk is still being read, so its insert goes out at once when it is ready.
      // (A savepoint round trip before every insert waited for this busy JS thread and left the
      // server idle: ~20% of a 1M-row load.)
      await client.query(`release savepoint ${CHUNK_SAVEPOINT}; savepoint ${CHUNK_SAVEPOINT}`);
    };
    inflight = send().then(
      () => null,
      (e: unknown) => e,
    );
    statements++;
  };

  const reportChunks = async () => {
    if (!input.onChunk) return;
    const chunk = Math.floor(rowIndex / chunkSize);
    while (lastChunkReported < chunk) {
      lastChunkReported++;
      await input.onChunk({ table, chunk: lastChunkReported, rowsLoaded: rowIndex });
    }
  };

  try {
    for await (const batch of input.batches) {
      if (input.signal?.aborted) throw new InterruptedError(`loading ${table} was interrupted`);
      const texts = batch.texts;
      const fast = scanner !== null && strategy === 'copy' && texts.length > 0;
      const count = fast ? texts.length : batch.rows.length;
      for (let b = 0; b < count; b++) {
        let scan: RowScan | null = null;
        if (fast) {
          // Text-level fast path: the row line straight to a COPY line (no row object).
          scan = scanner.scanRowLine(texts[b]!);
          if (scan && copy && segment?.fast) {
            const line = copyLineFromScan(texts[b]!, scan, segment.fast);
            if (line !== null) {
              pendingText.push(line);
              pendingChars += line.length;
              rowIndex++;
              if (pendingChars >= COPY_WRITE_CHARS) await flushPending();
              continue;
            }
          }
        }
        const row = batch.rows[b]!;
        // The capsule's hash covers the rows as written (before any rewrite).
        refResult?.hash?.add(row);
        if (input.rewriter) rewriteRow(input.rewriter, row, jsonCols);
        if (refResult && reference?.keyColumns) {
          const key: Record<string, unknown> = {};
          for (const k of reference.keyColumns) key[k] = row[k] ?? null;
          refResult.keys.push(key);
        }
        if (!segment || !sameKeys(segment, row)) {
          if (strategy === 'copy') await endCopy();
          else await flushJsonb();
          segment = makeSegment(row);
          if (scan && strategy === 'copy')
            segment.fast = fastSegment(texts[b]!, scan, segment.columns, segment.codecs);
        }
        if (strategy === 'copy') {
          if (!copy) {
            if (refResult) {
              try {
                await client.query(createClosureStageSql(table, segment.columns));
              } catch (err) {
                fail(err, null, segment);
              }
            }
            copy = new CopyWriter(client, copySql(refResult ? CLOSURE_STAGE_TABLE : table, segment.columns));
            statements++;
          }
          // A rewrite may put exact numbers into any row.
          const line = input.rewriter
            ? copyLine(row, segment.columns, segment.codecs, true)
            : copyLine(row, segment.columns, segment.codecs);
          pendingText.push(line);
          pendingChars += line.length;
          rowIndex++;
          if (pendingChars >= COPY_WRITE_CHARS) await flushPending();
        } else {
          jsonbRows.push(row);
          jsonbTexts.push(batch.texts[b]!);
          rowIndex++;
          if (jsonbRows.length >= chunkSize) await flushJsonb();
        }
      }
      if (strategy === 'copy' && copy) {
        // Keep the server busy: hand over what this batch produced.
        await flushPending();
      }
      await reportChunks();
    }
    if (strategy === 'copy') await endCopy();
    else {
      await flushJsonb();
      await awaitInflight();
      if (savepointOpen) await client.query(`release savepoint ${CHUNK_SAVEPOINT}`);
    }
  } catch (err) {
    // A COPY still open would keep the connection in copy mode: cancel it so ROLLBACK can run.
    const open = copy as CopyWriter | null;
    if (open) await open.abort();
    // NUL or a lone surrogate (copy-encoding.ts): name the table, row and column like a server error.
    if (err instanceof UnstorableValueError) throw loadError(table, chunkSize, err, rowIndex, null);
    throw err;
  }
  if (input.onChunk && rowIndex % chunkSize !== 0)
    await input.onChunk({ table, chunk: lastChunkReported + 1, rowsLoaded: rowIndex });
  return {
    rows: rowIndex - firstRow,
    strategy,
    columns: [...loadedColumns],
    unknownColumns: [...unknown],
    generatedColumns: [...generated],
    statements,
    reference: refResult,
  };
}

/** After a chunk failed: roll back to its savepoint and insert row by row to find the culprit. */
async function findFailingRow(client: pg.Client, sql: string, rows: RowObject[]): Promise<number | null> {
  await client.query(`rollback to savepoint ${CHUNK_SAVEPOINT}`);
  for (let i = 0; i < rows.length; i++) {
    await client.query('savepoint replay_row');
    try {
      await client.query(sql, [stringifyExact([rows[i]])]);
      await client.query('release savepoint replay_row');
    } catch {
      return i;
    }
  }
  return null;
}

/** The 0-based row index (within the table) a COPY error points at, from its CONTEXT line number. */
function copyErrorRow(err: unknown, segmentFirstRow: number): number | null {
  const where = (err as { where?: string })?.where;
  const m = where ? /COPY [^,]+, line (\d+)/.exec(where) : null;
  if (!m) return null;
  return segmentFirstRow + Number(m[1]) - 1;
}

function copyErrorColumn(err: unknown): string | null {
  const where = (err as { where?: string })?.where;
  const m = where ? /COPY [^,]+, line \d+, column ([^:]+):/.exec(where) : null;
  return m ? m[1]! : null;
}

/**
 * The server's message without the row value Postgres quotes at its end
 * (`invalid input syntax for type integer: "…"`): capsule rows may be customer data.
 */
export function withoutValues(message: string): string {
  // Also the value Postgres quotes inside the message (`value "…" is out of range for type integer`).
  return message
    .replace(/\bvalue "(?:[^"]|"")*"/gs, 'value "…"')
    .replace(/: ".*"$/s, ': "…"')
    .replace(/\n.*$/s, '');
}

function loadError(
  table: string,
  chunkSize: number,
  err: unknown,
  row: number | null,
  segmentFirstRow: number | null,
): FailureError {
  const e = err as { message?: string; code?: string; column?: string; constraint?: string };
  const where: string[] = [`table ${table}`];
  const at = row ?? segmentFirstRow;
  if (at !== null) where.push(`chunk ${Math.floor(at / chunkSize) + 1}`);
  if (row !== null) where.push(`row ${row}`);
  const extra: string[] = [];
  const column = e?.column ?? copyErrorColumn(err);
  if (column) extra.push(`column ${column}`);
  if (e?.constraint) extra.push(`constraint ${e.constraint}`);
  const fkDetail = foreignKeyDetail(err);
  if (fkDetail) extra.push(fkDetail);
  if (e?.code) extra.push(`SQLSTATE ${e.code}`);
  const message = withoutValues(e?.message ?? String(err));
  return new FailureError(
    `materialize failed at ${where.join(', ')} (row index counts from 0 within the table): ${message}${
      extra.length ? ` [${extra.join(', ')}]` : ''
    }; the transaction was rolled back and the target is unchanged`,
    { cause: err },
  );
}

/** A COPY FROM STDIN stream with promise-based writes that surface the server's error. */
class CopyWriter {
  private readonly stream: ReturnType<typeof copyFrom>;
  private error: unknown = null;
  private readonly clientErrors: unknown[] = [];
  private readonly onClientError = (e: unknown) => this.clientErrors.push(e);

  constructor(
    private readonly client: pg.Client,
    sql: string,
  ) {
    this.stream = client.query(copyFrom(sql));
    this.stream.on('error', (e) => {
      this.error ??= e;
    });
    client.on('error', this.onClientError);
  }

  /** The most informative error: a server error (has a SQLSTATE) beats a socket error (EPIPE). */
  private best(err: unknown): unknown {
    const all = [this.error, err, ...this.clientErrors].filter(Boolean);
    return (
      all.find(
        (e) =>
          typeof (e as { code?: unknown }).code === 'string' &&
          /^[0-9A-Z]{5}$/.test((e as { code: string }).code),
      ) ?? all[0]
    );
  }

  async write(text: string): Promise<void> {
    if (this.error) throw this.best(this.error);
    try {
      if (!this.stream.write(text)) await once(this.stream, 'drain');
    } catch (err) {
      await settle();
      throw this.best(err);
    }
    if (this.error) throw this.best(this.error);
  }

  /** Cancels the COPY (CopyFail); the server rolls the statement back. */
  async abort(): Promise<void> {
    this.stream.destroy(new Error('materialize aborted'));
    await finished(this.stream).catch(() => {});
    this.client.removeListener('error', this.onClientError);
  }

  async end(): Promise<number> {
    try {
      this.stream.end();
      await finished(this.stream);
      if (this.error) throw this.error;
      return this.stream.rowCount;
    } catch (err) {
      await settle();
      throw this.best(err);
    } finally {
      this.client.removeListener('error', this.onClientError);
    }
  }
}

/** Give the socket a moment to deliver the server's ErrorResponse after a write failed. */
function settle(): Promise<void> {
  return new Promise((r) => setTimeout(r, 50));
}
