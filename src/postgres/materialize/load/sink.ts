/**
 * What a load strategy's sink is: the loader (load-table.ts) hands it each row of a segment
 * (consecutive rows with the same keys, see segment.ts) and ends the segment when the keys change.
 * One sink per strategy: COPY (copy-sink.ts) and jsonb_populate_recordset (jsonb-sink.ts).
 */
import type pg from 'pg';
import type { RowObject } from '../../../capsule/rows.js';
import type { ReferenceLoadResult } from '../load-table.js';
import type { Segment } from './segment.js';

/** The loader's state a sink reads and updates. */
export interface SinkContext {
  readonly client: pg.Client;
  readonly table: string;
  /** Set for referential-closure rows (ON CONFLICT DO NOTHING; `inserted` counted by the sink). */
  readonly reference: ReferenceLoadResult | null;
  /** Row index (within the table) of the row being written. */
  readonly rowIndex: number;
  /** Statements sent (a COPY, or one insert per chunk). */
  statements: number;
  /** Throws the load error for `err` (a server error, else the connection's reason). */
  fail(err: unknown, row: number | null, segmentFirstRow: number | null): never;
}

export interface RowSink {
  /** Rows with the keys of `segment` follow (the previous segment was ended). */
  begin(segment: Segment): Promise<void>;
  /**
   * One row of the segment (`text`: its exact JSON line). Returns a promise only when the sink
   * sends what it collected (the caller awaits it): no per-row promise.
   */
  write(row: RowObject, text: string): Promise<void> | null;
  /** Hands what was collected to the server (after each batch read: keeps the server busy). */
  flush(): Promise<void>;
  /** Ends the segment: its rows are sent. */
  end(): Promise<void>;
  /** After the table's last row: everything sent and settled. */
  close(): Promise<void>;
  /** After a failure: leaves the connection usable for ROLLBACK. */
  abort(): Promise<void>;
}
