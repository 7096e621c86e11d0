/**
 * The `jsonb` strategy's sink: one `insert … select … from jsonb_populate_recordset(null::t, $1)`
 * per chunk of at most `chunkSize` rows of a segment (with OVERRIDING SYSTEM VALUE for GENERATED
 * ALWAYS identity columns; ON CONFLICT DO NOTHING for referential-closure rows).
 *
 * One chunk is in flight while the next is read and encoded. Each chunk runs under a savepoint so
 * that, when it fails, it is rolled back and its rows inserted one by one to name the failing row.
 */
import type pg from 'pg';
import type { RowObject } from '../../../capsule/rows.js';
import { stringifyExact } from '../../../util/exact-json.js';
import { jsonbInsertSql, tableSql } from '../sql.js';
import type { Segment } from './segment.js';
import type { RowSink, SinkContext } from './sink.js';

const CHUNK_SAVEPOINT = 'replay_chunk';

export class JsonbSink implements RowSink {
  #segment: Segment | null = null;
  #rows: RowObject[] = [];
  #texts: string[] = [];
  /** Row index (within the table) of `#rows[0]`. */
  #first = 0;
  /** The chunk in flight: resolves to its error, if any. */
  #inflight: Promise<unknown> | null = null;
  /** The savepoint a failed chunk rolls back to, taken before each chunk. */
  #savepointOpen = false;

  constructor(
    private readonly ctx: SinkContext,
    private readonly chunkSize: number,
    /** Rows were rewritten: their JSON text is re-serialised, not the capsule's line. */
    private readonly rewritten: boolean,
  ) {}

  async begin(segment: Segment): Promise<void> {
    this.#segment = segment;
  }

  write(row: RowObject, text: string): Promise<void> | null {
    if (this.#rows.length === 0) this.#first = this.ctx.rowIndex;
    this.#rows.push(row);
    this.#texts.push(text);
    return this.#rows.length >= this.chunkSize ? this.end() : null;
  }

  async flush(): Promise<void> {}

  /** Sends the collected rows as one chunk (not awaited: it is in flight while the next is read). */
  async end(): Promise<void> {
    if (this.#rows.length === 0) return;
    const seg = this.#segment!;
    const rows = this.#rows;
    const texts = this.#texts;
    const first = this.#first;
    this.#rows = [];
    this.#texts = [];
    if (seg.columns.length === 0) {
      await this.#awaitInflight();
      await this.#insertDefaults(rows.length, first, seg);
      return;
    }
    const sql = jsonbInsertSql(
      this.ctx.table,
      seg.columns,
      seg.overriding,
      this.ctx.reference !== null,
      seg.textJson,
    );
    // The rows' own JSON text when nothing changed them (no re-serialising); exact either way.
    const param =
      this.rewritten || texts.length !== rows.length ? stringifyExact(rows) : `[${texts.join(',')}]`;
    await this.#awaitInflight();
    this.#inflight = this.#send(sql, param, rows, first).then(
      () => null,
      (e: unknown) => e,
    );
    this.ctx.statements++;
  }

  async close(): Promise<void> {
    await this.end();
    await this.#awaitInflight();
    if (this.#savepointOpen) await this.ctx.client.query(`release savepoint ${CHUNK_SAVEPOINT}`);
  }

  /** A chunk in flight settles on its own (its error is kept, not thrown); ROLLBACK queues behind it. */
  async abort(): Promise<void> {}

  async #awaitInflight(): Promise<void> {
    if (!this.#inflight) return;
    const err = await this.#inflight;
    this.#inflight = null;
    if (err) throw err;
  }

  async #send(sql: string, param: string, rows: RowObject[], first: number): Promise<void> {
    const { client, reference } = this.ctx;
    try {
      if (!this.#savepointOpen) {
        await client.query(`savepoint ${CHUNK_SAVEPOINT}`);
        this.#savepointOpen = true;
      }
      const r = await client.query(sql, [param]);
      if (reference) reference.inserted += r.rowCount ?? 0;
    } catch (err) {
      const row = await findFailingRow(client, sql, rows).catch(() => null);
      this.ctx.fail(err, row === null ? null : first + row, first);
    }
    // The next chunk's savepoint is taken now, in the same round trip as this one's release and
    // while the next chunk is still being read, so its insert goes out at once when it is ready.
    // (A savepoint round trip before every insert waited for this busy JS thread and left the
    // server idle: ~20% of a 1M-row load.)
    await client.query(`release savepoint ${CHUNK_SAVEPOINT}; savepoint ${CHUNK_SAVEPOINT}`);
  }

  /** Every key unknown or generated: one row of defaults per row. */
  async #insertDefaults(count: number, first: number, seg: Segment): Promise<void> {
    const { client, table, reference } = this.ctx;
    for (let i = 0; i < count; i++) {
      try {
        const r = await client.query(
          `insert into ${tableSql(table)} default values${reference ? ' on conflict do nothing' : ''}`,
        );
        if (reference) reference.inserted += r.rowCount ?? 0;
      } catch (err) {
        this.ctx.fail(err, first + i, seg.firstRow);
      }
    }
  }
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
