/**
 * Referential-closure rows in materialize (see docs/materialize.md, "Referential closure").
 *
 * The capsule's `closure` key records per table how many rows closure added; they are the LAST n
 * rows of the table's array (tables closure alone added hold nothing else). They are reference
 * data: no deletePredicate selects them, so they are inserted with ON CONFLICT DO NOTHING and a
 * row the target already holds wins. They load before the table's graph rows (they are what those
 * rows point at, also through self-references). After the load every closure row's key (the table's primary
 * key, else a non-partial unique index) must be present in the target, which keeps the integrity
 * check exact on a non-empty target:
 *
 * - graph rows (the table's rows matching its deletePredicate, closure keys excluded) are counted
 *   and content-hashed against the capsule's hash minus its closure rows' share (the integrity
 *   hash is a sum over rows, capsule/integrity.ts);
 * - closure rows are checked by key; their content is hashed only when none was already present
 *   (otherwise the target's own rows are what is there, on purpose).
 */
import type pg from 'pg';
import type { IntegrityAlgorithm, TableHasher } from '../../capsule/integrity.js';
import type { RowBatch } from '../../capsule/rows.js';
import type { CapsuleHeader } from '../../capsule/schema.js';
import { InputError } from '../../errors.js';
import type { Manifest } from '../../manifest/schema.js';
import { stringifyExact } from '../../util/exact-json.js';
import { quoteIdent } from '../../util/sql-names.js';
import { graphRowsWhere, tableSql } from './sql.js';
import { countRowsWhere, hashRowsWhere } from './verify.js';

const KEYS_TABLE = 'replay_closure_keys';
const MOD = 1n << 256n;

/** Rows referential closure added to `table` (the capsule's `closure.tables.<t>.rows`), checked. */
export function closureRowCount(
  header: CapsuleHeader,
  table: string,
  tableRows: number,
  path: string,
): number {
  const c = header.closure as { tables?: Record<string, { rows?: unknown }> } | undefined;
  const n = c?.tables?.[table]?.rows;
  if (n === undefined) return 0;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > tableRows)
    throw new InputError(
      `${path}: closure.tables.${table}.rows: must be an integer from 0 to the table's ${tableRows} rows, got ${JSON.stringify(n)}`,
    );
  return n;
}

/** Capsule tables the manifest does not declare that referential closure added, parents first. */
export function closureOnlyTables(
  manifest: Manifest,
  header: CapsuleHeader,
  inCapsule: readonly string[],
): string[] {
  const declared = new Set(manifest.postgres.tables.map((t) => t.name));
  const extra = inCapsule.filter((t) => !declared.has(t));
  const schemaOrder = (header.schema as { tables?: { name?: unknown }[] } | undefined)?.tables
    ?.map((t) => t.name)
    .filter((n): n is string => typeof n === 'string');
  if (schemaOrder && extra.every((t) => schemaOrder.includes(t)))
    return schemaOrder.filter((t) => extra.includes(t));
  return [...extra].reverse();
}

/** The first `n` rows of a table's stream (its graph rows; closure rows come after them). */
export async function* takeRows(batches: AsyncIterable<RowBatch>, n: number): AsyncGenerator<RowBatch> {
  let taken = 0;
  for await (const b of batches) {
    if (taken >= n) break;
    const room = n - taken;
    if (b.rows.length <= room) {
      taken += b.rows.length;
      yield b;
    } else {
      taken = n;
      yield {
        rows: b.rows.slice(0, room),
        texts: b.texts.length === b.rows.length ? b.texts.slice(0, room) : [],
      };
      break;
    }
  }
}

export interface ReferenceKey {
  /** Key columns and their SQL types (format_type). */
  columns: string[];
  types: string[];
  /** `primary key` or the unique index's name. */
  source: string;
}

/** The target table's primary key, else its first non-partial, column-only unique index. */
export async function readReferenceKey(
  client: pg.Client,
  schema: string,
  relname: string,
): Promise<ReferenceKey | null> {
  const { rows } = await client.query<{ cols: string[]; types: string[]; name: string; pk: boolean }>(
    `select array_agg(a.attname::text order by k.ord) as cols,
            array_agg(format_type(a.atttypid, a.atttypmod) order by k.ord) as types,
            ic.relname::text as name, i.indisprimary as pk
       from pg_index i
       join pg_class c on c.oid = i.indrelid
       join pg_namespace n on n.oid = c.relnamespace
       join pg_class ic on ic.oid = i.indexrelid
       cross join lateral unnest(i.indkey::int2[]) with ordinality as k(attnum, ord)
       join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
      where n.nspname = $1 and c.relname = $2 and i.indisunique and i.indpred is null
        and i.indexprs is null and k.ord <= i.indnkeyatts
      group by i.indexrelid, ic.relname, i.indisprimary
      order by i.indisprimary desc, i.indexrelid
      limit 1`,
    [schema, relname],
  );
  const r = rows[0];
  if (!r) return null;
  return { columns: r.cols, types: r.types, source: r.pk ? 'primary key' : `unique index ${r.name}` };
}

export interface ClosureTableCheck {
  /** Target rows counted for the table: graph rows + closure keys found. */
  database: number;
  /** Graph rows hash (and closure rows' when compared); null when nothing was hashed. */
  hashMatch: boolean | null;
  problems: string[];
  /** Distinct closure keys checked and found; keys with a NULL column cannot be looked up. */
  keysChecked: number;
  keysFound: number;
  keysWithNull: number;
}

/**
 * Exact check of a table holding closure rows in a target that may hold other rows. `predicate`
 * is null for a table only closure added (no graph rows). Runs inside the load transaction.
 */
export async function verifyClosureTable(
  client: pg.Client,
  input: {
    table: string;
    predicate: string | null;
    /** Capsule rows of the table, and how many of them are closure rows. */
    expected: number;
    closureRows: number;
    key: ReferenceKey;
    keys: Record<string, unknown>[];
    /** Closure rows the load actually inserted (the others were already present). */
    inserted: number;
    /** Content hash comparison: the capsule's recorded hash, the columns, the closure rows' hash. */
    hash: {
      recorded: string;
      columns: readonly string[];
      closure: TableHasher;
      algorithm: IntegrityAlgorithm;
      /** The capsule's columnEncodings of the table. */
      encodings?: Readonly<Record<string, string>>;
    } | null;
  },
): Promise<ClosureTableCheck> {
  const { table, key } = input;
  const t = tableSql(table);
  const problems: string[] = [];
  const cols = key.columns.map(quoteIdent);
  const defs = key.columns.map((c, i) => `${quoteIdent(c)} ${key.types[i]}`).join(', ');
  await client.query(`drop table if exists ${KEYS_TABLE}`);
  await client.query(
    `create temp table ${KEYS_TABLE} on commit drop as
       select distinct ${cols.join(', ')} from jsonb_to_recordset($1::jsonb) as k(${defs})
        where ${cols.map((c) => `${c} is not null`).join(' and ')}`,
    [stringifyExact(input.keys)],
  );
  const keysChecked = await countRowsWhere(client, KEYS_TABLE, 'true');
  const matchKey = `exists (select 1 from ${KEYS_TABLE} k where ${cols.map((c) => `k.${c} = t.${c}`).join(' and ')})`;
  const keysFound = Number(
    (
      await client.query<{ n: string }>(
        `select count(*) as n from ${KEYS_TABLE} k where exists (select 1 from ${t} t where ${cols
          .map((c) => `t.${c} = k.${c}`)
          .join(' and ')})`,
      )
    ).rows[0]!.n,
  );
  const keysWithNull = input.keys.filter((k) => key.columns.some((c) => k[c] === null)).length;
  if (keysFound !== keysChecked)
    problems.push(
      `${table}: ${keysChecked - keysFound} of ${keysChecked} referential-closure rows are not in the target after the load (looked up by ${key.source} ${key.columns.join(', ')}); a row already in the target holds one of their other unique values?`,
    );
  const graphExpected = input.expected - input.closureRows;
  let graphCount = 0;
  let hashMatch: boolean | null = null;
  if (input.predicate !== null) {
    const where = `${graphRowsWhere(input.predicate)} and not ${matchKey}`;
    graphCount = await countRowsWhere(client, table, where);
    if (graphCount !== graphExpected)
      problems.push(
        `${table}: capsule has ${graphExpected} graph rows (plus ${input.closureRows} added by referential closure), the target has ${graphCount} rows matching its deletePredicate that are not closure rows`,
      );
    if (input.hash) {
      const want = subtractDigest(input.hash.recorded, input.hash.closure.digest());
      const got = await hashRowsWhere(
        client,
        table,
        where,
        input.hash.columns,
        input.hash.algorithm,
        input.hash.encodings,
      );
      hashMatch = got.sha256 === want;
      if (!hashMatch && graphCount === graphExpected)
        problems.push(
          `${table}: the loaded graph rows' content hash differs from the capsule's integrity record (its closure rows' share taken out)`,
        );
    }
  }
  // Closure rows' content is the capsule's only when every one of them was inserted by this load.
  if (input.hash && input.inserted === input.closureRows && keysWithNull === 0) {
    const got = await hashRowsWhere(
      client,
      table,
      matchKey,
      input.hash.columns,
      input.hash.algorithm,
      input.hash.encodings,
    );
    const ok = got.sha256 === input.hash.closure.digest();
    if (!ok && keysFound === keysChecked)
      problems.push(`${table}: the loaded referential-closure rows' content hash differs from the capsule's`);
    hashMatch = (hashMatch ?? true) && ok;
  }
  await client.query(`drop table ${KEYS_TABLE}`);
  return {
    database: graphCount + keysFound,
    hashMatch,
    problems,
    keysChecked,
    keysFound,
    keysWithNull,
  };
}

/** a − b for the integrity record's sum-of-row-hashes digests (mod 2^256). */
function subtractDigest(a: string, b: string): string {
  const v = (BigInt(`0x${a}`) - BigInt(`0x${b}`) + MOD) % MOD;
  return v.toString(16).padStart(64, '0');
}
