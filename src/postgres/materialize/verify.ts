/**
 * Materialization integrity: after loading (inside the same transaction, before COMMIT), count
 * the graph's rows per table in the target with the tables' delete predicates and compare with
 * the capsule; when the capsule carries an `integrity` record, also recompute each table's content
 * hash (restricted to the capsule's own columns, since rowSql may leave columns out) and compare:
 * v2 inside Postgres (one row of sums comes back), v1 from the rows read back.
 */
import type pg from 'pg';
import { INTEGRITY_ALGORITHM_V1, type IntegrityAlgorithm, TableHasher } from '../../capsule/integrity.js';
import { parseRowLine } from '../../capsule/rows.js';
import { type ColumnEncoding, encodedRowSql } from '../copy/column-encoding.js';
import { copyLines } from '../copy/copy-out.js';
import { canonicalFromText } from '../export/canonical.js';
import { graphRowsWhere, tableSql } from './sql.js';

export async function countGraphRows(client: pg.Client, table: string, predicate: string): Promise<number> {
  return countRowsWhere(client, table, graphRowsWhere(predicate));
}

/** Rows of `table` (alias t) matching a SQL condition. */
export async function countRowsWhere(client: pg.Client, table: string, where: string): Promise<number> {
  const { rows } = await client.query<{ n: string }>(
    `select count(*) as n from ${tableSql(table)} t where ${where}`,
  );
  return Number(rows[0]!.n);
}

/** Content hash (capsule/integrity.ts) of the graph's rows in the target, over `columns` only. */
export function hashGraphRows(
  client: pg.Client,
  table: string,
  predicate: string,
  columns: readonly string[],
  algorithm: IntegrityAlgorithm,
  encodings?: Readonly<Record<string, string>>,
): Promise<{ rows: number; sha256: string }> {
  return hashRowsWhere(client, table, graphRowsWhere(predicate), columns, algorithm, encodings);
}

/**
 * Content hash of the rows of `table` (alias t) matching a SQL condition, over `columns` only.
 * `encodings`: the capsule's columnEncodings of the table; each row is rendered the way the
 * exporter wrote it (postgres/copy/column-encoding.ts).
 */
export function hashRowsWhere(
  client: pg.Client,
  table: string,
  where: string,
  columns: readonly string[],
  algorithm: IntegrityAlgorithm,
  encodings?: Readonly<Record<string, string>>,
): Promise<{ rows: number; sha256: string }> {
  const keep = new Set(columns);
  const encoded = Object.fromEntries(Object.entries(encodings ?? {}).filter(([c]) => keep.has(c))) as Record<
    string,
    ColumnEncoding
  >;
  return algorithm === INTEGRITY_ALGORITHM_V1
    ? hashRowsV1(client, table, where, columns, encoded)
    : hashRowsInServer(client, table, where, columns, encoded);
}

/**
 * The row text both sides hash (v2): `to_jsonb(t.*)` (with the capsule's encoded columns as the
 * exporter wrote them) without the target's columns the capsule does not have (`$1`: the
 * capsule's columns). `t.*`, not `t`: in a table with a column named `t`, `to_jsonb(t)` is that
 * column's value; `$2`: the table.
 */
function rowJsonbSql(encoded: Record<string, ColumnEncoding>): string {
  return `(${encodedRowSql('t', encoded)} - array(select a.attname::text from pg_attribute a
     where a.attrelid = $2::regclass and a.attnum > 0
       and not a.attisdropped and a.attname::text <> all($1::text[])))::text`;
}

/**
 * Hex digits of each row's sha256 summed per slice (15 hex digits = 60 bits fit a bigint; the
 * sums are numeric, so no overflow): sum mod 2^256 = Σ slice sums · 16^(digits after the slice).
 */
const SLICES: readonly [start: number, length: number][] = [
  [1, 15],
  [16, 15],
  [31, 15],
  [46, 15],
  [61, 4],
];

/**
 * v2: Postgres renders and hashes every row and returns one row of sums; nothing is parsed and
 * no row crosses the wire. `offset 0` keeps the subquery from being pulled up: inlined, `h`
 * would be computed once per slice (five renderings of every row instead of one).
 */
async function hashRowsInServer(
  client: pg.Client,
  table: string,
  where: string,
  columns: readonly string[],
  encoded: Record<string, ColumnEncoding>,
): Promise<{ rows: number; sha256: string }> {
  // The digest as one bit(256) (one parse of its hex), then bit substrings: cheaper than a
  // text substring and bit parse per slice.
  const sums = SLICES.map(
    ([at, n], i) => `sum(substring(b from ${4 * (at - 1) + 1} for ${4 * n})::bigint)::text as s${i}`,
  );
  const { rows } = await client.query<Record<string, string | null>>(
    `select count(*)::text as n, ${sums.join(', ')}
       from (select ('x' || encode(sha256(convert_to(${rowJsonbSql(encoded)}, 'UTF8')), 'hex'))::bit(256) as b
               from ${tableSql(table)} t where ${where} offset 0) x`,
    [columns, tableSql(table)],
  );
  const r = rows[0]!;
  let total = 0n;
  SLICES.forEach(([at, n], i) => {
    const shift = BigInt(4 * (64 - (at - 1) - n));
    total += BigInt(r[`s${i}`] ?? '0') << shift;
  });
  return { rows: Number(r.n), sha256: (total % (1n << 256n)).toString(16).padStart(64, '0') };
}

/** v1: rows read back as jsonb text and hashed here in their canonical JSON form. */
async function hashRowsV1(
  client: pg.Client,
  table: string,
  where: string,
  columns: readonly string[],
  encoded: Record<string, ColumnEncoding>,
): Promise<{ rows: number; sha256: string }> {
  const hasher = TableHasher.for(INTEGRITY_ALGORITHM_V1);
  const keep = new Set(columns);
  // Every target column is a capsule column (the usual case): the canonical form straight from
  // the text, without building the row.
  const { rows: targetCols } = await client.query<{ c: string }>(
    `select a.attname::text as c from pg_attribute a where a.attrelid = $1::regclass and a.attnum > 0 and not a.attisdropped`,
    [tableSql(table)],
  );
  const whole = targetCols.every((r) => keep.has(r.c));
  // COPY TO streams without holding the table in memory; copyLines splits and unescapes the lines.
  // `t.*`, not `t`: in a table with a column named `t`, `to_jsonb(t)` is that column's value.
  await copyLines(
    client,
    `select ${encodedRowSql('t', encoded)} from ${tableSql(table)} t where ${where}`,
    (line) => {
      if (!line) return;
      if (whole) {
        hasher.addCanonical(canonicalFromText(line));
        return;
      }
      const row = parseRowLine(line);
      const picked: Record<string, unknown> = {};
      for (const k of Object.keys(row)) if (keep.has(k)) picked[k] = row[k];
      hasher.add(picked);
    },
  );
  return { rows: hasher.rows, sha256: hasher.digest() };
}
