/**
 * SQL probe: one query against the replay database, read-only (`BEGIN READ ONLY` … `ROLLBACK`),
 * through a cursor so at most `maxRows` rows are fetched. Values stay exact: numbers keep their
 * digits, json/jsonb are parsed losslessly, dates and times are Postgres's own text.
 */
import pg from 'pg';
import type { z } from 'zod';
import type { sqlProbeSchema } from '../../manifest/schema.js';
import { describePgError } from '../../postgres/connect.js';
import { withoutValues } from '../../postgres/materialize/load-error.js';
import { loadSqlParser, parseOneStatement } from '../../postgres/schema/sql-guard.js';
import { extendedQuery } from '../../postgres/single-statement.js';
import { isSecretFieldName } from '../../redaction/secret-scanner.js';
import { LosslessNumber, parseExact } from '../../util/exact-json.js';
import { maskDeep } from '../mask.js';
import { DEFAULT_PROBE_TIMEOUT_S, type ProbeContext } from './context.js';
import type { ProbeOutcome } from './http.js';

export type SqlProbe = z.infer<typeof sqlProbeSchema>;
const DEFAULT_MAX_ROWS = 100;

const NUMERIC_OIDS = new Set([20, 21, 23, 26, 700, 701, 1700]); // int8 int2 int4 oid float4 float8 numeric
const JSON_OIDS = new Set([114, 3802]);
const TEXT_OIDS = new Set([1082, 1083, 1114, 1184, 1186, 1266]); // date time timestamp timestamptz interval timetz

const exactNumber = (v: string): LosslessNumber | string =>
  /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(v) ? new LosslessNumber(v) : v; // NaN/Infinity stay text

/** Type parsers that never round: exact numbers, lossless JSON, timestamps as Postgres prints them. */
const exactTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (NUMERIC_OIDS.has(oid)) return exactNumber;
    if (JSON_OIDS.has(oid)) return (v: string) => parseExact(v);
    if (TEXT_OIDS.has(oid)) return (v: string) => v;
    return pg.types.getTypeParser(oid, format ?? 'text');
  },
};

/** Removes comments and the contents of string literals / quoted identifiers (for structure checks). */
function stripLiterals(sql: string): string {
  return sql
    .replace(/\$([A-Za-z_][A-Za-z0-9_]*)?\$[\s\S]*?\$\1\$/g, "''")
    .replace(/'(?:[^']|'')*'/g, "''")
    .replace(/"(?:[^"]|"")*"/g, '""')
    .replace(/--[^\n]*/g, ' ')
    .replace(/\/\*[\s\S]*?\*\//g, ' ');
}

/** True when the query has an ORDER BY outside any parentheses (its row order is significant). */
function hasTopLevelOrderBy(sql: string): boolean {
  const s = stripLiterals(sql);
  let depth = 0;
  let top = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    else if (ch === ')') depth = Math.max(0, depth - 1);
    top += depth === 0 && ch !== ')' ? ch : ' ';
  }
  return /\border\s+by\b/i.test(top);
}

/**
 * Why the query is not exactly one SELECT (WITH … SELECT, VALUES and TABLE parse as SELECT), or
 * null. Checked with PostgreSQL's parser: `select 1; commit; delete from t` is three statements.
 * Text the parser rejects is left to the server, whose error names the problem.
 */
async function notOneSelect(query: string): Promise<string | null> {
  await loadSqlParser();
  const parsed = parseOneStatement(query);
  const expected = 'an sql probe runs exactly one read-only query (SELECT, WITH … SELECT, VALUES or TABLE)';
  if ('error' in parsed)
    return /^holds \d+ statements/.test(parsed.error) ? `${expected}; this one ${parsed.error}` : null;
  return parsed.kind === 'SelectStmt' ? null : `${expected}; this one is a ${parsed.kind}`;
}

/** `bound`: the query with subject placeholders as $n parameters (run/probe-binding.ts). */
export async function runSqlProbe(
  probe: SqlProbe,
  ctx: ProbeContext,
  bound?: { text: string; params: string[] },
): Promise<ProbeOutcome> {
  const query = (bound?.text ?? probe.query).trim().replace(/;+\s*$/, '');
  const maxRows = probe.maxRows ?? DEFAULT_MAX_ROWS;
  const timeoutMs = (probe.timeoutSeconds ?? DEFAULT_PROBE_TIMEOUT_S) * 1000;
  const base = {
    query: probe.query,
    columns: [] as string[],
    rows: [] as unknown[][],
    rowCount: 0,
    truncated: false,
  };
  const ordered = hasTopLevelOrderBy(query);
  const refused = await notOneSelect(query);
  if (refused) return { ok: false, error: refused, sql: { ...base, ordered } };
  const client = new pg.Client({
    connectionString: ctx.databaseUrl,
    application_name: 'replay-env sql probe',
    statement_timeout: timeoutMs,
    connectionTimeoutMillis: timeoutMs,
    types: exactTypes,
  });
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    return { ok: false, error: `cannot connect to the replay database: ${describePgError(err)}`, sql: base };
  }
  try {
    await client.query('BEGIN READ ONLY');
    // Parameters are bound by the server (extended protocol), never spliced into the text.
    // Extended protocol even without parameters: the server refuses a second statement too.
    await client.query(
      extendedQuery(`DECLARE replay_probe NO SCROLL CURSOR FOR ${query}`, bound?.params ?? []),
    );
    const res = await client.query({ text: `FETCH ${maxRows + 1} FROM replay_probe`, rowMode: 'array' });
    const truncated = res.rows.length > maxRows;
    const columns = res.fields.map((f) => f.name);
    // Rows are arrays, so secret-named columns are masked here (maskDeep only sees object keys).
    const rows = (res.rows.slice(0, maxRows) as unknown[][]).map((row) =>
      row.map((v, i) =>
        typeof v === 'string' && v !== '' && isSecretFieldName(columns[i] ?? '')
          ? '***'
          : maskDeep(v, ctx.mask, true),
      ),
    );
    return {
      ok: true,
      sql: {
        query: probe.query,
        columns,
        rows,
        rowCount: rows.length,
        truncated,
        ordered,
      },
    };
  } catch (err) {
    // Postgres quotes the offending value at the end of data errors (`invalid input syntax for type
    // integer: "…"`); it is a capsule value, and step errors are printed by `run` and in CI logs.
    return {
      ok: false,
      error: `query failed: ${withoutValues(describePgError(err))}${sqlStateNote(err)}`,
      sql: { ...base, ordered },
    };
  } finally {
    await client.query('ROLLBACK').catch(() => {});
    await client.end().catch(() => {});
  }
}

/** ` [SQLSTATE 42P01]` when the server named one (reports show the error class). */
function sqlStateNote(err: unknown): string {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? ` [SQLSTATE ${code}]` : '';
}
