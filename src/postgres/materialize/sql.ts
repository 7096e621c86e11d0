/** SQL text materialize runs (shared by the live load and `--dry-run-sql`). */
import { quoteIdent } from '../../util/sql-names.js';

export const GRAPH_TABLE = 'replay_graph';

/**
 * A manifest table name in SQL. The original wrote names unquoted, so Postgres folded them to
 * lower case; quoting the lower-cased name means the same and also works for reserved words.
 */
export function tableSql(name: string): string {
  return quoteIdent(name.toLowerCase());
}

export function catalogName(name: string): string {
  return name.toLowerCase();
}

export function createGraphSql(keys: readonly string[]): string {
  return `create temp table ${GRAPH_TABLE} (${keys.map((k) => `${quoteIdent(k)} text`).join(', ')}) on commit drop`;
}

export function insertGraphSql(keys: readonly string[]): string {
  const cols = keys.map(quoteIdent).join(', ');
  return `insert into ${GRAPH_TABLE} (${cols}) select ${cols} from jsonb_to_recordset($1::jsonb) as g(${keys
    .map((k) => `${quoteIdent(k)} text`)
    .join(', ')})`;
}

export function deleteSql(table: string, predicate: string): string {
  return `delete from ${tableSql(table)} t using ${GRAPH_TABLE} g where ${predicate}`;
}

/** Rows of the target that belong to the graph: the same predicate the deletes use. */
export function graphRowsWhere(predicate: string): string {
  return `exists (select 1 from ${GRAPH_TABLE} g where ${predicate})`;
}

export function copySql(table: string, columns: readonly string[]): string {
  return `copy ${tableSql(table)} (${columns.map(quoteIdent).join(', ')}) from stdin`;
}

export function jsonbInsertSql(
  table: string,
  columns: readonly string[],
  overriding: boolean,
  onConflictDoNothing = false,
  textJson?: ReadonlyMap<string, string>,
): string {
  const cols = columns.map(quoteIdent).join(', ');
  const t = tableSql(table);
  if (textJson && textJson.size > 0)
    return jsonbInsertWithTextJsonSql(t, columns, overriding, onConflictDoNothing, textJson);
  return `insert into ${t} (${cols})${overriding ? ' overriding system value' : ''} select ${cols} from jsonb_populate_recordset(null::${t}, $1::jsonb)${onConflictDoNothing ? ON_CONFLICT : ''}`;
}

/**
 * The jsonb insert when json/jsonb columns are carried as text (capsule `columnEncodings`): a
 * JSON string in such a column is the value's text, cast with the column's type (`->>` unescapes
 * it); any other JSON value is the value itself; JSON null is SQL NULL. The other columns come
 * from jsonb_populate_record as usual (without the text columns, which it would read as JSON).
 */
function jsonbInsertWithTextJsonSql(
  t: string,
  columns: readonly string[],
  overriding: boolean,
  onConflictDoNothing: boolean,
  textJson: ReadonlyMap<string, string>,
): string {
  const exprs = columns.map((c) => {
    const type = textJson.get(c);
    if (type === undefined) return `r.${quoteIdent(c)}`;
    const key = literal(c);
    return `case jsonb_typeof(e.v -> ${key}) when 'string' then (e.v ->> ${key})::${type} when 'null' then null else (e.v -> ${key})::${type} end`;
  });
  const without = `array[${[...textJson.keys()].map(literal).join(', ')}]::text[]`;
  return `insert into ${t} (${columns.map(quoteIdent).join(', ')})${overriding ? ' overriding system value' : ''} select ${exprs.join(', ')} from jsonb_array_elements($1::jsonb) e(v), jsonb_populate_record(null::${t}, e.v - ${without}) r${onConflictDoNothing ? ON_CONFLICT : ''}`;
}

/**
 * Referential-closure rows are reference data: a row the target already holds (any unique
 * violation, no conflict target) is kept as it is and the capsule's copy skipped.
 */
const ON_CONFLICT = ' on conflict do nothing';

/** The temporary table closure rows are COPYed into (COPY cannot skip conflicting rows itself). */
export const CLOSURE_STAGE_TABLE = 'replay_closure_stage';

/** The stage: the segment's columns with the target's types, no constraints, no rows. */
export function createClosureStageSql(table: string, columns: readonly string[]): string {
  return `create temp table ${CLOSURE_STAGE_TABLE} on commit drop as select ${columns.map(quoteIdent).join(', ')} from ${tableSql(table)} with no data`;
}

export function insertFromClosureStageSql(
  table: string,
  columns: readonly string[],
  overriding: boolean,
): string {
  const cols = columns.map(quoteIdent).join(', ');
  return `insert into ${tableSql(table)} (${cols})${overriding ? ' overriding system value' : ''} select ${cols} from ${CLOSURE_STAGE_TABLE}${ON_CONFLICT}`;
}

/** A SQL string literal (for the dry-run script only; the live load always uses parameters). */
export function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}
