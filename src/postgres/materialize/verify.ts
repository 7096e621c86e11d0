/**
 * Materialization integrity: after loading (inside the same transaction, before COMMIT), count
 * the graph's rows per table in the target with the tables' delete predicates and compare with
 * the capsule; when the capsule carries an `integrity` record, also recompute each table's content
 * hash from the rows read back (restricted to the capsule's own columns, since rowSql may leave
 * columns out) and compare.
 */
import { finished } from 'node:stream/promises';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { TableHasher } from '../../capsule/integrity.js';
import { type ColumnEncoding, encodedRowSql } from '../column-encoding.js';
import { parseRowLine } from './capsule-rows.js';
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
  encodings?: Readonly<Record<string, string>>,
): Promise<{ rows: number; sha256: string }> {
  return hashRowsWhere(client, table, graphRowsWhere(predicate), columns, encodings);
}

/**
 * Content hash of the rows of `table` (alias t) matching a SQL condition, over `columns` only.
 * `encodings`: the capsule's columnEncodings of the table; the rows are read back the way the
 * exporter wrote them (postgres/column-encoding.ts).
 */
export async function hashRowsWhere(
  client: pg.Client,
  table: string,
  where: string,
  columns: readonly string[],
  encodings?: Readonly<Record<string, string>>,
): Promise<{ rows: number; sha256: string }> {
  const hasher = new TableHasher();
  const keep = new Set(columns);
  const encoded = Object.fromEntries(Object.entries(encodings ?? {}).filter(([c]) => keep.has(c))) as Record<
    string,
    ColumnEncoding
  >;
  // COPY TO streams without holding the table in memory. JSON text has no raw tab/newline/CR, so
  // the only COPY TEXT escape that can occur in it is the doubled backslash.
  const stream = client.query(
    // `t.*`, not `t`: in a table with a column named `t`, `to_jsonb(t)` is that column's value.
    copyTo(`copy (select ${encodedRowSql('t', encoded)} from ${tableSql(table)} t where ${where}) to stdout`),
  );
  let carry = '';
  const handle = (line: string) => {
    if (!line) return;
    const row = parseRowLine(line.includes('\\') ? line.replace(/\\\\/g, '\\') : line);
    const picked: Record<string, unknown> = {};
    for (const k of Object.keys(row)) if (keep.has(k)) picked[k] = row[k];
    hasher.add(picked);
  };
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const text = carry + chunk;
    const parts = text.split('\n');
    carry = parts.pop() ?? '';
    // A throw inside a 'data' listener escapes as an uncaught exception and `finished` never
    // settles (materialize hung); fail the stream instead.
    try {
      for (const p of parts) handle(p);
    } catch (err) {
      stream.destroy(err as Error);
    }
  });
  await finished(stream);
  handle(carry);
  return { rows: hasher.rows, sha256: hasher.digest() };
}
