/**
 * The SQL of an export, built from the manifest (pure: no connection).
 *
 * Semantics are the original tool's export SQL (docs/export.md, "What runs against the source";
 * test/export-compat.test.ts checks the equivalence on the original's compat fixtures): a `params`
 * row (subject values as text + `since_at = now() - since-days`), `all_graph_keys` (the subject
 * with reason `subject`, union all of every graph edge), `graph_keys` (distinct tuples with no
 * null/empty key), `graph` (tuple + sorted distinct reasons), and per table
 * `rowSql from <from> where <where> order by <orderBy>`.
 *
 * Differences that do not change results:
 * - values are never spliced into SQL. `COPY (query) TO STDOUT` cannot take bind parameters, so
 *   the values are bound once per transaction into transaction-local settings
 *   (`select set_config('replay_env.p1', $1, true), …`) and `params` reads them back with
 *   `current_setting(...)`. Nothing is written to the source (works on a hot standby).
 * - instead of one giant jsonb document, the graph and each table are separate statements over
 *   the same CTEs, run inside one REPEATABLE READ snapshot (`now()` is the transaction start, so
 *   every statement sees the same `since_at`).
 * - each row is `to_jsonb(<rowSql>)::text`, which is what the original's `jsonb_agg(row_json)` did
 *   to each row (a json or record `rowSql` becomes jsonb); for a jsonb `rowSql` the wrapper is
 *   dropped (`rowIsJsonb`).
 */
import type { Manifest, ManifestTable } from '../../manifest/schema.js';
import { quoteIdent } from '../../util/sql-names.js';
import { type ColumnEncoding, encodedRowSql } from '../copy/column-encoding.js';

const SETTING_PREFIX = 'replay_env';
export const DEFAULT_SINCE_DAYS = 180;

export interface ExportSqlInput {
  manifest: Manifest;
  /** Subject values by key (every subject key present). */
  subject: Record<string, string>;
  sinceDays: number;
}

interface BoundStatement {
  /** What this statement is, e.g. `params`, `graph`, `postgres.tables[4] (events)`. */
  label: string;
  text: string;
  values: string[];
}

interface TableStatement {
  /** Index in `postgres.tables`. */
  index: number;
  name: string;
  /** Manifest entry name for messages: `postgres.tables[4] (events)`. */
  entry: string;
  /** The row query (one text column: the row's JSON). */
  text: string;
}

export interface ExportSql {
  /** The CTE chain every graph/table statement starts with. */
  chain: string;
  /** Binds the subject values and since-days into transaction-local settings ($1..$n). */
  params: BoundStatement;
  /** exportedAt and sinceAt as JSON strings (the original's `to_jsonb(now())`). */
  window: string;
  /** One row per graph subject: `to_jsonb(graph)::text`, sorted by the subject keys. */
  graph: string;
  /** Each graph edge alone, for pinpointing which one fails (`postgres.graphEdges[i]`). */
  edges: { entry: string; text: string }[];
  tables: TableStatement[];
}

function settingName(i: number): string {
  return `${SETTING_PREFIX}.p${i}`;
}

/** Lower-case like Postgres folds an unquoted identifier, then quoted (safe for reserved words). */
function col(key: string): string {
  return quoteIdent(key.toLowerCase());
}

/** `with params as (...), all_graph_keys as (...), graph_keys as (...), graph as (...)` */
function cteChain(manifest: Manifest, edges: string[] = manifest.postgres.graphEdges): string {
  const keys = manifest.subjectKeys;
  const n = keys.length;
  const paramCols = keys
    .map((k, i) => `current_setting('${settingName(i + 1)}')::text as ${col(k)}`)
    .join(', ');
  const seedCols = keys.map((k) => `seed.${col(k)}`).join(', ');
  const parts = [`    select ${seedCols}, 'subject'::text as reason from params seed`, ...edges];
  const notEmpty = keys.map((k) => `coalesce(${col(k)}, '') <> ''`).join(' and ');
  const join = keys.map((k) => `a.${col(k)} = g.${col(k)}`).join(' and ');
  const gCols = keys.map((k) => `g.${col(k)}`).join(', ');
  return `with
params as (
    select
        ${paramCols},
        now() - (current_setting('${settingName(n + 1)}')::int * interval '1 day') as since_at
),
all_graph_keys as (
${parts.join('\n\n    union all\n')}
),
graph_keys as (
    select distinct ${keys.map(col).join(', ')}
    from all_graph_keys
    where ${notEmpty}
),
graph as (
    select
        ${gCols},
        coalesce(jsonb_agg(distinct a.reason) filter (where a.reason is not null), '[]'::jsonb) as reasons
    from graph_keys g
    left join all_graph_keys a on ${join}
    group by ${gCols}
)`;
}

export function tableEntry(index: number, table: ManifestTable): string {
  return `postgres.tables[${index}] (${table.name})`;
}

/**
 * The default `from`: `<name> <alias>` as the original wrote it, but quoted (lower-cased first, as
 * Postgres folds the unquoted names, so it means the same) — a table may be called `select` or
 * `user`, which are plain identifiers to the manifest but reserved words to Postgres.
 */
export function defaultFrom(table: Pick<ManifestTable, 'name' | 'alias'>): string {
  return `${quoteIdent(table.name.toLowerCase())} ${quoteIdent((table.alias ?? 't').toLowerCase())}`;
}

/** The default row's alias, quoted. */
export function tableAlias(table: Pick<ManifestTable, 'alias'>): string {
  return quoteIdent((table.alias ?? 't').toLowerCase());
}

/**
 * The row query of one table, without the CTE chain. `encodings`: columns of the default row
 * carried as text (see column-encoding.ts); a custom rowSql is the manifest's own choice.
 */
function tableQuery(
  table: ManifestTable,
  rowIsJsonb = false,
  encodings?: Record<string, ColumnEncoding>,
): string {
  const alias = tableAlias(table);
  // `alias.*`, not `alias`: in a table with a column named like the alias (`t`), `to_jsonb(t)`
  // is that column's value, not the row (found by test/property/copy-roundtrip.property.test.ts).
  const rowSql = table.rowSql ?? encodedRowSql(alias, encodings);
  const from = table.from ?? defaultFrom(table);
  // The default rowSql is jsonb already; a custom one may be json/record (see file comment).
  const row = rowIsJsonb || table.rowSql === undefined ? `(${rowSql})::text` : `to_jsonb(${rowSql})::text`;
  let q = `select ${row} as row_json\nfrom ${from}`;
  if (table.where) q += `\nwhere ${table.where}`;
  if (table.orderBy) q += `\norder by ${table.orderBy}`;
  return q;
}

/** A table's full statement: the CTE chain, then its row query. */
export function tableStatementText(
  chain: string,
  table: ManifestTable,
  rowIsJsonb: boolean,
  encodings?: Record<string, ColumnEncoding>,
): string {
  return `${chain}\n${tableQuery(table, rowIsJsonb, encodings)}`;
}

export function buildExportSql(
  input: ExportSqlInput,
  rowIsJsonb: (t: ManifestTable) => boolean = () => false,
): ExportSql {
  const { manifest, subject, sinceDays } = input;
  const keys = manifest.subjectKeys;
  const values = [...keys.map((k) => subject[k] ?? ''), String(sinceDays)];
  const setCalls = values.map((_, i) => `set_config('${settingName(i + 1)}', $${i + 1}, true)`);
  const params: BoundStatement = {
    label: 'params',
    text: `select ${setCalls.join(', ')}`,
    values,
  };
  const chain = cteChain(manifest);
  const order = keys.map(col).join(', ');
  return {
    chain,
    params,
    window: `${cteChain(manifest, [])}\nselect to_jsonb(now())::text as exported_at, to_jsonb(since_at)::text as since_at from params`,
    graph: `${chain}\nselect to_jsonb(graph)::text as graph_json from graph order by ${order}`,
    edges: manifest.postgres.graphEdges.map((_, i) => ({
      entry: `postgres.graphEdges[${i}]`,
      text: `${cteChain(manifest, [manifest.postgres.graphEdges[i]!])}\nselect count(*) from all_graph_keys`,
    })),
    tables: manifest.postgres.tables.map((t, i) => ({
      index: i,
      name: t.name,
      entry: tableEntry(i, t),
      text: tableStatementText(chain, t, rowIsJsonb(t)),
    })),
  };
}

/**
 * `--dry-run-sql`: every statement the export runs, in order, with the parameter values listed
 * separately (they are bound, never part of the SQL text).
 */
export function formatDryRunSql(manifest: Manifest, sql: ExportSql): string {
  const keys = manifest.subjectKeys;
  const names = [...keys.map((k) => `subject ${k}`), 'since days'];
  const out: string[] = [
    '-- replay-env export-postgres --dry-run-sql',
    '-- Session: set timezone = UTC, datestyle = ISO, intervalstyle = postgres, bytea_output = hex, extra_float_digits = 1',
    '-- Transaction: begin isolation level repeatable read read only; ... commit',
    '-- Parameters (bound, never spliced into the SQL):',
    ...sql.params.values.map((v, i) => `--   $${i + 1} = ${JSON.stringify(v)}  (${names[i]})`),
    '',
    '-- [params] bind the parameters into transaction-local settings (COPY cannot take parameters)',
    `${sql.params.text};`,
    '',
    '-- [window] exportedAt and window.sinceAt',
    `${sql.window};`,
    '',
    '-- [graph] streamed with COPY ... TO STDOUT',
    `copy (\n${sql.graph}\n) to stdout;`,
  ];
  for (const t of sql.tables) {
    out.push('', `-- [${t.entry}] streamed with COPY ... TO STDOUT`, `copy (\n${t.text}\n) to stdout;`);
  }
  return `${out.join('\n')}\n`;
}
