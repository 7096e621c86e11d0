/**
 * Column encodings (capsule schemaVersion 2, `columnEncodings`): how a column's values are carried
 * when `to_jsonb` would lose or confuse them.
 *
 * `to_jsonb(row)` is exact for most types (numbers keep their digits, timestamps, BC dates,
 * NaN/Infinity, ranges, geometric types, enums, tsvector, … all round-trip through
 * `jsonb_populate_record` and COPY). It is not for:
 * - `json`: whitespace, key order and duplicate keys are lost (it becomes jsonb);
 * - `jsonb`: a JSON `null` value becomes indistinguishable from SQL NULL;
 * - `xml`: the XML declaration is dropped;
 * - types with a cast to json (`hstore`): the value becomes a JSON object its input cannot read;
 * - arrays: explicit bounds (`[0:2]={7,8,9}`) are dropped; `json`/`xml`/… elements as above;
 *   a `jsonb[]` loses JSON `null` elements and array elements become dimensions;
 * - composite values holding any of the above.
 *
 * Those columns get an encoding, and the value is written as the column's PostgreSQL text output
 * (`col::text`, a JSON string) where needed, and loaded through the type's text input:
 * - `json`: every non-NULL value is its exact text (a `json` column);
 * - `text`: every non-NULL value is its text output (xml, hstore, json[], composites…);
 * - `jsonb`: objects, arrays, numbers and booleans stay JSON; a JSON string or JSON `null` value is
 *   carried as its jsonb text (`"\"abc\""`, `"null"`), so SQL NULL stays `null`;
 * - `array`: a JSON array as before, or the array's text output (a string) when it has explicit
 *   bounds;
 * - `jsonb[]`: like `array`, also when an element is a JSON `null` or a JSON array.
 * A loader tells the forms apart: for these columns a JSON string is always the text form.
 */
import type pg from 'pg';
import { quoteIdent } from '../../util/sql-names.js';

export type ColumnEncoding = 'json' | 'text' | 'jsonb' | 'array' | 'jsonb[]';

/** Per table, per column (only columns that need one). */
export type ColumnEncodings = Record<string, Record<string, ColumnEncoding>>;

type Kind = ColumnEncoding | 'exact';

const JSON_OID = 114;
const JSONB_OID = 3802;
const XML_OID = 142;

interface TypeRow {
  oid: number;
  typtype: string;
  base: number;
  elem: number;
  relid: number;
  is_array: boolean;
  json_cast: boolean;
}

const TYPE_SQL = `select t.oid::int as oid, t.typtype::text as typtype, t.typbasetype::int as base,
    t.typelem::int as elem, t.typrelid::int as relid,
    t.typsubscript = 'array_subscript_handler'::regproc as is_array,
    exists (select 1 from pg_cast c where c.castsource = t.oid
            and c.casttarget in ('json'::regtype, 'jsonb'::regtype)) as json_cast
  from pg_type t where t.oid = any($1::oid[])`;

/** Classifies type OIDs (resolving domains, array elements and composite attributes). */
export class TypeClassifier {
  private rows = new Map<number, TypeRow>();
  private kinds = new Map<number, Kind>();

  constructor(private readonly client: pg.Client) {}

  async encodings(
    columns: readonly { name: string; typeOid: number }[],
  ): Promise<Record<string, ColumnEncoding>> {
    const out: Record<string, ColumnEncoding> = {};
    for (const c of columns) {
      const kind = await this.kind(c.typeOid, new Set());
      if (kind !== 'exact') out[c.name] = kind;
    }
    return out;
  }

  private async row(oid: number): Promise<TypeRow | undefined> {
    if (!this.rows.has(oid)) {
      const r = await this.client.query<TypeRow>(TYPE_SQL, [[oid]]);
      for (const t of r.rows) this.rows.set(t.oid, t);
    }
    return this.rows.get(oid);
  }

  private async kind(oid: number, seen: Set<number>): Promise<Kind> {
    const known = this.kinds.get(oid);
    if (known) return known;
    if (seen.has(oid)) return 'text';
    seen.add(oid);
    const kind = await this.computeKind(oid, seen);
    this.kinds.set(oid, kind);
    return kind;
  }

  private async computeKind(oid: number, seen: Set<number>): Promise<Kind> {
    const t = await this.row(oid);
    if (!t) return 'exact';
    if (t.typtype === 'd') return this.kind(t.base, seen);
    if (t.oid === JSONB_OID) return 'jsonb';
    if (t.oid === JSON_OID) return 'json';
    if (t.oid === XML_OID || t.json_cast) return 'text';
    if (t.is_array) {
      const elem = await this.kind(t.elem, seen);
      if (elem === 'exact') return 'array';
      return elem === 'jsonb' ? 'jsonb[]' : 'text';
    }
    if (t.typtype === 'c') return (await this.compositeIsExact(t.relid, seen)) ? 'exact' : 'text';
    return 'exact';
  }

  private async compositeIsExact(relid: number, seen: Set<number>): Promise<boolean> {
    const r = await this.client.query<{ oid: number }>(
      'select atttypid::int as oid from pg_attribute where attrelid = $1 and attnum > 0 and not attisdropped',
      [relid],
    );
    for (const a of r.rows) if ((await this.kind(a.oid, seen)) !== 'exact') return false;
    return true;
  }
}

/** Some lower bound is not 1 (the array's text output then starts with its bounds). */
function hasBoundsSql(c: string): string {
  return `(array_lower(${c}, 1) <> 1 or (array_ndims(${c}) > 1 and array_dims(${c}) ~ '\\[([^1]|1[^:])'))`;
}

/** When a value of an encoded column (`alias.col`) is carried as its text. */
function carriedAsTextSql(c: string, encoding: ColumnEncoding): string {
  switch (encoding) {
    case 'json':
    case 'text':
      // Not `is not null`: for a composite that is false when any field is NULL.
      return `num_nonnulls(${c}) = 1`;
    case 'jsonb':
      return `jsonb_typeof(${c}) in ('string', 'null')`;
    case 'array':
      return hasBoundsSql(c);
    case 'jsonb[]':
      return `(${hasBoundsSql(c)} or exists (select 1 from unnest(${c}) x where jsonb_typeof(x) in ('null', 'array')))`;
  }
}

/** jsonb_build_object takes at most 100 arguments: 50 columns per call. */
const PAIRS_PER_CALL = 50;

/**
 * The row as jsonb: `to_jsonb(alias.*)`, with each encoded column's value replaced by its text
 * where needed (`||` keeps the key, so the row's keys are the same). Rows that need no text (most
 * rows of a jsonb or array column) skip the concatenation: it doubled the server's cost per row.
 */
export function encodedRowSql(alias: string, encodings: Record<string, ColumnEncoding> | undefined): string {
  const base = `to_jsonb(${alias}.*)`;
  const entries = Object.entries(encodings ?? {});
  if (entries.length === 0) return base;
  const needs = entries.map(([col, enc]) => carriedAsTextSql(`${alias}.${quoteIdent(col)}`, enc));
  const calls: string[] = [];
  for (let i = 0; i < entries.length; i += PAIRS_PER_CALL) {
    const pairs = entries.slice(i, i + PAIRS_PER_CALL).map(([col], j) => {
      const c = `${alias}.${quoteIdent(col)}`;
      return `${sqlString(col)}, case when ${needs[i + j]} then to_jsonb(${c}::text) else to_jsonb(${c}) end`;
    });
    calls.push(`jsonb_build_object(${pairs.join(', ')})`);
  }
  return `(case when ${needs.join(' or ')} then ${base} || ${calls.join(' || ')} else ${base} end)`;
}

function sqlString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** Encodings of the columns of `select <alias>.* from <from>` (a query returning no rows). */
export async function relationEncodings(
  client: pg.Client,
  classifier: TypeClassifier,
  probeSql: string,
): Promise<Record<string, ColumnEncoding>> {
  const r = await client.query(probeSql);
  return classifier.encodings(r.fields.map((f) => ({ name: f.name, typeOid: f.dataTypeID })));
}
