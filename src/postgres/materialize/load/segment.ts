/**
 * Segments: consecutive rows with the same set of keys load with one column list, so a column a
 * row leaves out gets the column's DEFAULT (not NULL). Planning a segment also records, for the
 * whole table, which capsule columns were loaded, unknown to the target, or generated.
 */
import type { RowObject } from '../../../capsule/rows.js';
import type { ColumnCodec } from '../../copy/copy-encoding.js';
import type { FastSegment } from '../../copy/row-line-copy.js';
import type { TargetTable } from '../target-catalog.js';

export interface Segment {
  keys: Set<string>;
  /** Columns loaded (capsule keys the target has and that are not generated). */
  columns: string[];
  codecs: ColumnCodec[];
  overriding: boolean;
  /** json/jsonb columns carried as text -> their type (jsonb strategy, see jsonbInsertSql). */
  textJson: Map<string, string>;
  /** A composite-typed column carried as JSON: COPY text cannot take it, jsonb can. */
  needsJsonb: boolean;
  firstRow: number;
  /** The COPY fast path's layout for rows with the same keys in the same order (null: none). */
  fast?: FastSegment | null;
}

/** Plans segments for one table and collects the columns seen across them. */
export class SegmentPlanner {
  readonly unknown = new Set<string>();
  readonly generated = new Set<string>();
  readonly loaded = new Set<string>();

  constructor(
    private readonly target: TargetTable,
    /** Columns the capsule carries as text (schemaVersion 2 `columnEncodings`). */
    private readonly encodings: Readonly<Record<string, string>> | undefined,
  ) {}

  /** The segment starting with `row`, at row index `firstRow`. */
  plan(row: RowObject, firstRow: number): Segment {
    const keys = new Set(Object.keys(row));
    const columns: string[] = [];
    const codecs: ColumnCodec[] = [];
    const textJson = new Map<string, string>();
    let overriding = false;
    let needsJsonb = false;
    for (const k of keys) {
      const col = this.target.columns.get(k);
      if (!col) {
        this.unknown.add(k);
        continue;
      }
      if (col.generated) {
        this.generated.add(k);
        continue;
      }
      const encoding = this.encodings?.[k];
      // A composite carried as text is its record literal: COPY reads it.
      if (col.composite && encoding !== 'text') needsJsonb = true;
      if (col.identityAlways) overriding = true;
      columns.push(k);
      let codec = col.codec;
      if (encoding !== undefined && codec.kind === 'json') {
        codec = { ...codec, textForm: true };
        textJson.set(k, col.typeSql);
      }
      codecs.push(codec);
      this.loaded.add(k);
    }
    return { keys, columns, codecs, overriding, textJson, needsJsonb, firstRow };
  }
}

/** Whether `row` has exactly the segment's keys. */
export function sameKeys(seg: Segment, row: RowObject): boolean {
  let n = 0;
  for (const k in row) {
    if (!seg.keys.has(k)) return false;
    n++;
  }
  return n === seg.keys.size;
}
