/**
 * The `copy` strategy's sink: one `COPY t (cols) FROM STDIN` per segment, rows encoded as COPY
 * text lines and sent in large writes. A COPY is one statement, so foreign keys between rows of
 * the same table are checked at its end.
 *
 * Referential-closure rows cannot skip conflicts in a COPY: each segment is COPYed into a
 * temporary stage table and inserted from there with ON CONFLICT DO NOTHING.
 *
 * Rows also arrive as ready COPY lines (`writeLine`): the fast path encodes a row line's text
 * directly when the segment has a `fast` layout (copy/row-line-copy.ts).
 */
import type { RowObject } from '../../../capsule/rows.js';
import { copyLine } from '../../copy/copy-encoding.js';
import type { FastSegment } from '../../copy/row-line-copy.js';
import { CLOSURE_STAGE_TABLE, copySql, createClosureStageSql, insertFromClosureStageSql } from '../sql.js';
import { CopyWriter } from './copy-writer.js';
import type { Segment } from './segment.js';
import type { RowSink, SinkContext } from './sink.js';

/** Up to this many characters are collected before one write to the COPY stream. */
const COPY_WRITE_CHARS = 1 << 18;

export class CopySink implements RowSink {
  #segment: Segment | null = null;
  #writer: CopyWriter | null = null;
  #pending: string[] = [];
  #pendingChars = 0;

  constructor(
    private readonly ctx: SinkContext,
    /** Rows were rewritten: any row may hold exact numbers (see copyLine). */
    private readonly rewritten: boolean,
  ) {}

  /** The open segment's fast-path layout; null when there is none or no COPY is open. */
  get fast(): FastSegment | null {
    return this.#writer ? (this.#segment?.fast ?? null) : null;
  }

  async begin(segment: Segment): Promise<void> {
    const { client, table, reference } = this.ctx;
    this.#segment = segment;
    if (reference) {
      try {
        await client.query(createClosureStageSql(table, segment.columns));
      } catch (err) {
        this.ctx.fail(err, null, segment.firstRow);
      }
    }
    this.#writer = new CopyWriter(client, copySql(reference ? CLOSURE_STAGE_TABLE : table, segment.columns));
    this.ctx.statements++;
  }

  write(row: RowObject): Promise<void> | null {
    const seg = this.#segment!;
    const line = this.rewritten
      ? copyLine(row, seg.columns, seg.codecs, true)
      : copyLine(row, seg.columns, seg.codecs);
    return this.writeLine(line);
  }

  /** One COPY line (with its newline) of the open segment. */
  writeLine(line: string): Promise<void> | null {
    this.#pending.push(line);
    this.#pendingChars += line.length;
    return this.#pendingChars >= COPY_WRITE_CHARS ? this.flush() : null;
  }

  async flush(): Promise<void> {
    try {
      await this.#sendPending();
    } catch (err) {
      this.#failCopy(err);
    }
  }

  async end(): Promise<void> {
    const writer = this.#writer;
    if (!writer) return;
    const seg = this.#segment!;
    try {
      await this.#sendPending();
      await writer.end();
    } catch (err) {
      this.#failCopy(err);
    }
    this.#writer = null;
    if (this.ctx.reference) await this.#insertStaged(seg);
  }

  close(): Promise<void> {
    return this.end();
  }

  async abort(): Promise<void> {
    // A COPY still open would keep the connection in copy mode: cancel it so ROLLBACK can run.
    if (this.#writer) await this.#writer.abort();
  }

  async #sendPending(): Promise<void> {
    if (!this.#writer || this.#pending.length === 0) return;
    const text = this.#pending.join('');
    this.#pending = [];
    this.#pendingChars = 0;
    await this.#writer.write(text);
  }

  #failCopy(err: unknown): never {
    const seg = this.#segment!;
    this.#writer = null;
    return this.ctx.fail(err, copyErrorRow(err, seg.firstRow), seg.firstRow);
  }

  /** Staged closure rows into the target, skipping rows it already holds. */
  async #insertStaged(seg: Segment): Promise<void> {
    const { client, table, reference } = this.ctx;
    try {
      const r = await client.query(insertFromClosureStageSql(table, seg.columns, seg.overriding));
      reference!.inserted += r.rowCount ?? 0;
      await client.query(`drop table ${CLOSURE_STAGE_TABLE}`);
    } catch (err) {
      this.ctx.fail(err, null, seg.firstRow);
    }
  }
}

/** The 0-based row index (within the table) a COPY error points at, from its CONTEXT line number. */
function copyErrorRow(err: unknown, segmentFirstRow: number): number | null {
  const where = (err as { where?: string })?.where;
  const m = where ? /COPY [^,]+, line (\d+)/.exec(where) : null;
  if (!m) return null;
  return segmentFirstRow + Number(m[1]) - 1;
}
