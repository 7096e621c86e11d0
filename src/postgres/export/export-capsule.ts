/**
 * Streaming export of one subject's graph into a capsule.
 *
 * Phases: connect (exportCapsule) → snapshot (openSnapshot: one REPEATABLE READ READ ONLY
 * transaction, subject values bound as parameters) → graph (readGraph) → closure rows
 * (readClosureRows, optional hook) → tables (exportTables: each streamed with
 * `COPY (query) TO STDOUT`, rows transformed and written as they arrive) → extras (optional hook,
 * same snapshot) → write (writeTrailer: integrity, findings, extension sections; then the atomic
 * rename). exportInSnapshot runs them in order; exportFailure turns a failure into its error.
 *
 * Nothing is built as one value, in Postgres or here: memory is bounded by the COPY chunk and
 * the writer's buffer, whatever the capsule size. Rows arrive as jsonb text, so every number keeps
 * its digits; rows are parsed (exactly) only when redaction or the secret scanner needs the tree.
 */
import type pg from 'pg';
import {
  closeJsonColumns,
  jsonEncodedColumns,
  openJsonColumns,
  pathInColumn,
} from '../../capsule/encoded-json.js';
import type { CapsuleKey } from '../../capsule/encryption.js';
import {
  contentHash,
  INTEGRITY_ALGORITHM,
  jsonbText,
  schemaSectionHash,
  TableHasher,
} from '../../capsule/integrity.js';
import type { GraphEntry } from '../../capsule/schema.js';
import { CapsuleWriter, type WrittenCapsule } from '../../capsule/writer.js';
import { FailureError, InterruptedError, ReplayError } from '../../errors.js';
import { ADAPTER, type Manifest, type ManifestTable } from '../../manifest/schema.js';
import { buildRedactor, type Redactor } from '../../redaction/redact.js';
import { mightHoldSecrets, scanValue } from '../../redaction/secret-scanner.js';
import { type ExactJson, parseExact, stringifyExact } from '../../util/exact-json.js';
import { TOOL_NAME, VERSION } from '../../version.js';
import { cancelAndClose } from '../cancel-query.js';
import { connect, describePgError, isConnectionLost } from '../connect.js';
import { type ColumnEncodings, relationEncodings, TypeClassifier } from '../copy/column-encoding.js';
import { COPY_NULL } from '../copy/copy-encoding.js';
import { copyLines } from '../copy/copy-out.js';
import { assertManifestSingleStatements } from '../single-statement.js';
import {
  buildExportSql,
  DEFAULT_SINCE_DAYS,
  defaultFrom,
  type ExportSql,
  tableAlias,
  tableEntry,
  tableStatementText,
} from './sql.js';
import type { ExtraRows, ExtraRowsContext } from './zero-setup.js';

export type RedactionMode = 'safe' | 'raw';

interface Finding {
  table: string;
  /** 0-based index of the row in the capsule's table. */
  row: number;
  /** JSON path inside the row (`payload.request.headers.token`). */
  path: string;
  kind: string;
}

interface ExtraSectionsContext {
  /** The export connection, inside the export's snapshot transaction (read only). */
  client: pg.Client;
  manifest: Manifest;
  subject: Record<string, string>;
  graph: GraphEntry[];
  /** Tables exported so far with their row counts, in capsule order. */
  tables: { name: string; rows: number }[];
}

/** Returns extra top-level capsule keys (written after `tables`); values may hold exact numbers. */
type ExtraSectionsHook = (ctx: ExtraSectionsContext) => Promise<Record<string, unknown>>;

/**
 * Zero-setup hook (referential closure, see zero-setup.ts): runs after the graph, in the
 * snapshot, and returns rows to append to declared tables (after their exported rows) and tables
 * the manifest does not declare (written after its tables). They are redacted, scanned and hashed
 * like exported rows.
 */
type ExtraRowsHook = (ctx: ExtraRowsContext) => Promise<ExtraRows>;

export type ExportProgress =
  | { kind: 'phase'; phase: string; ms: number }
  | { kind: 'tableStart'; table: string; index: number; total: number }
  | { kind: 'tableRows'; table: string; rows: number }
  | { kind: 'tableEnd'; table: string; rows: number; ms: number };

export interface ExportOptions {
  manifest: Manifest;
  /** Every subject key with a non-empty value. */
  subject: Record<string, string>;
  databaseUrl: string;
  /** Recorded in `source.databaseUrlEnv` when the URL came from that variable. */
  databaseUrlEnv?: string;
  out: string;
  sinceDays?: number;
  redaction?: RedactionMode;
  statementTimeoutMs?: number;
  /** Record secret-scanner findings in the capsule instead of failing. */
  allowFindings?: boolean;
  /**
   * Write the capsule even when no declared table has a row for the subject (by default that is
   * an error: a mistyped or unknown subject would otherwise replay as an empty, passing run).
   */
  allowEmpty?: boolean;
  /** Environment for hmac keys (the front door passes io.env). */
  env?: Record<string, string | undefined>;
  /** Force gzip on/off (default: path ends in .gz or .gz.enc). */
  gzip?: boolean;
  /** Encrypt the capsule with this key (capsule/encryption.ts; the front door reads it from the env). */
  encrypt?: CapsuleKey;
  onProgress?: (e: ExportProgress) => void;
  extraSections?: ExtraSectionsHook;
  extraRows?: ExtraRowsHook;
  /**
   * Cancellation (Ctrl-C in the CLI): closes the export connection, removes the temp file and
   * throws an InterruptedError. Once the capsule is being renamed into place it completes.
   */
  signal?: AbortSignal;
}

interface TableTiming {
  name: string;
  rows: number;
  ms: number;
}

export interface ExportResult extends WrittenCapsule {
  app: string;
  redaction: RedactionMode;
  exportedAt: string;
  window: { sinceDays: number; sinceAt: string };
  subject: Record<string, string>;
  graph: GraphEntry[];
  counts: Record<string, number>;
  findings: Finding[];
  integrity: { contentSha256: string; tables: Record<string, { rows: number; sha256: string }> };
  timings: {
    connectMs: number;
    snapshotMs: number;
    graphMs: number;
    tables: TableTiming[];
    /** Parsing, redaction, secret scanning and re-serialising rows. */
    redactionMs: number;
    /** Waiting for the file/gzip, plus closing and renaming. */
    writeMs: number;
    extrasMs: number;
    totalMs: number;
  };
}

const MAX_FINDINGS = 1000;
const JSONB_OID = 3802;

/** Validates the subject: every key given and non-empty; no unknown keys. */
function checkSubject(manifest: Manifest, subject: Record<string, string>): string[] {
  return manifest.subjectKeys.filter((k) => !subject[k]);
}

export async function exportCapsule(options: ExportOptions): Promise<ExportResult> {
  const t0 = performance.now();
  const { manifest, signal } = options;
  const redaction: RedactionMode = options.redaction ?? 'safe';
  // Bad hmac configuration is an input error: fail before connecting.
  const redactor = redaction === 'safe' ? buildRedactor(manifest.redactionRules, { env: options.env }) : null;
  if (signal?.aborted) throw interruptedError();
  await assertManifestSingleStatements(manifest, 'manifest');
  const progress = options.onProgress ?? (() => {});
  const t = performance.now();
  const client = await connect(options.databaseUrl, {
    role: 'export source',
    statementTimeoutMs: options.statementTimeoutMs,
    applicationName: `${TOOL_NAME} export`,
  });
  const run: ExportRun = {
    options,
    manifest,
    client,
    subject: orderedSubject(manifest, options.subject),
    sinceDays: options.sinceDays ?? DEFAULT_SINCE_DAYS,
    redaction,
    redactor,
    progress,
    t0,
    connectMs: performance.now() - t,
    writer: null,
    beforeCommit: () => {},
  };
  progress({ kind: 'phase', phase: 'connect', ms: run.connectMs });
  // Cancellation closes the connection: whatever query or COPY is running fails at once (the
  // server ends the read-only snapshot), and exportFailure removes the temp file.
  // The running query is cancelled on the server (pg_cancel_backend), not only abandoned: a closed
  // socket leaves a long query running on the source until it next writes.
  let cancelling: Promise<void> | null = null;
  const onAbort = () => {
    cancelling = cancelAndClose(options.databaseUrl, client, 'export source');
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  run.beforeCommit = () => {
    // Once the capsule is being renamed into place it completes.
    if (signal?.aborted) throw interruptedError();
    signal?.removeEventListener('abort', onAbort);
  };
  try {
    if (signal?.aborted) throw interruptedError();
    return await exportInSnapshot(run);
  } catch (err) {
    throw await exportFailure(err, run.writer, cancelling, signal);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    if (cancelling) await cancelling;
    await client.end().catch(() => {});
  }
}

/** One export in progress: the options, the connection, and what the phases share. */
interface ExportRun {
  options: ExportOptions;
  manifest: Manifest;
  client: pg.Client;
  subject: Record<string, string>;
  sinceDays: number;
  redaction: RedactionMode;
  redactor: Redactor | null;
  progress: (e: ExportProgress) => void;
  t0: number;
  connectMs: number;
  /** The capsule being written (its temp file), null before it is opened and once committed. */
  writer: CapsuleWriter | null;
  /** Last chance to stop before the capsule is renamed into place. */
  beforeCommit: () => void;
}

interface ExportedTables {
  findings: Finding[];
  state: { redactionMs: number; findingsTotal: number };
  timings: TableTiming[];
  hashes: Record<string, { rows: number; sha256: string }>;
}

function interruptedError(tempRemoved = false): InterruptedError {
  return new InterruptedError(
    `export interrupted; no capsule was written${tempRemoved ? ' (its temp file was removed)' : ''}`,
  );
}

/** Milliseconds since `t`, reported as a finished phase. */
function phaseDone(run: ExportRun, phase: string, t: number): number {
  const ms = performance.now() - t;
  run.progress({ kind: 'phase', phase, ms });
  return ms;
}

/** snapshot → graph → closure rows → header → tables → extras → commit the snapshot → write. */
async function exportInSnapshot(run: ExportRun): Promise<ExportResult> {
  const { client, manifest, subject, sinceDays, redaction, options } = run;
  let t = performance.now();
  const sql = buildExportSql({ manifest, subject, sinceDays });
  const windowTexts = await openSnapshot(client, sql);
  const snapshotMs = phaseDone(run, 'snapshot', t);
  t = performance.now();
  const graph = await readGraph(client, sql, manifest);
  const graphMs = phaseDone(run, 'graph', t);
  const exportedAt = JSON.parse(windowTexts.exportedAt) as string;
  const window = { sinceDays, sinceAt: JSON.parse(windowTexts.sinceAt) as string };

  const writer = await CapsuleWriter.open(options.out, {
    gzip: options.gzip,
    ...(options.encrypt ? { encrypt: options.encrypt } : {}),
  });
  run.writer = writer;
  // columns carried as text (capsule schemaVersion 2), then closure rows (zero-setup hook)
  t = performance.now();
  const encodings = await tableEncodings(client, manifest, sql.chain);
  const extraRows = options.extraRows
    ? await readClosureRows(run, options.extraRows, sql, graph, encodings)
    : null;
  if (options.extraRows) phaseDone(run, 'closure', t);
  Object.assign(encodings, extraRows?.encodings);
  writeHeader(writer, {
    manifest,
    exportedAt,
    window,
    subject,
    graph,
    redaction,
    databaseUrlEnv: options.databaseUrlEnv,
    encodings,
  });

  const tables = await exportTables(run, writer, sql, encodings, extraRows);
  if (!options.allowEmpty && tables.timings.every((x) => x.rows === 0))
    throw emptySubjectError(subject, sinceDays);

  t = performance.now();
  const tableRows = tables.timings.map((x) => ({ name: x.name, rows: x.rows }));
  const extra = options.extraSections
    ? await options.extraSections({ client, manifest, subject, graph, tables: tableRows })
    : {};
  const extrasMs = options.extraSections ? phaseDone(run, 'extras', t) : performance.now() - t;
  await client.query('commit');

  const contentSha256 = writeTrailer(writer, subject, graph, tables, extra);
  run.beforeCommit();
  t = performance.now();
  const written = await writer.commit();
  const writeMs = writer.waitMs + (performance.now() - t);
  run.writer = null;
  run.progress({ kind: 'phase', phase: 'write', ms: writeMs });
  return {
    ...written,
    app: manifest.appId,
    redaction,
    exportedAt,
    window,
    subject,
    graph,
    counts: Object.fromEntries(tables.timings.map((x) => [x.name, x.rows])),
    findings: tables.findings,
    integrity: { contentSha256, tables: tables.hashes },
    timings: {
      connectMs: run.connectMs,
      snapshotMs,
      graphMs,
      tables: tables.timings,
      redactionMs: tables.state.redactionMs,
      writeMs,
      extrasMs,
      totalMs: performance.now() - run.t0,
    },
  };
}

/** The zero-setup hook's rows (referential closure), read in the export's snapshot. */
function readClosureRows(
  run: ExportRun,
  hook: ExtraRowsHook,
  sql: ExportSql,
  graph: GraphEntry[],
  encodings: ColumnEncodings,
): Promise<ExtraRows> {
  const { client, manifest, subject } = run;
  return hook({
    client,
    manifest,
    subject,
    graph,
    encodings,
    tableStatement: async (tb) => {
      // Closure meets a table's rowSql before the table's own export does: name the entry.
      try {
        return tableStatementText(sql.chain, tb, await rowIsJsonb(client, tb, sql.chain), encodings[tb.name]);
      } catch (err) {
        throw new FailureError(
          `${tableEntry(manifest.postgres.tables.indexOf(tb), tb)}: ${describePgError(err)}`,
          {
            cause: err,
          },
        );
      }
    },
  });
}

/** Every declared table (its query's rows, then closure rows), then the tables only closure added. */
async function exportTables(
  run: ExportRun,
  writer: CapsuleWriter,
  sql: ExportSql,
  encodings: ColumnEncodings,
  extraRows: ExtraRows | null,
): Promise<ExportedTables> {
  const out: ExportedTables = {
    findings: [],
    state: { redactionMs: 0, findingsTotal: 0 },
    timings: [],
    hashes: {},
  };
  const { client, progress } = run;
  const ctx: TableContext = {
    redactor: run.redactor,
    scan: run.redaction === 'safe',
    findings: out.findings,
    state: out.state,
    progress,
    encodings,
  };
  const declared = run.manifest.postgres.tables;
  writer.beginTables();
  for (const [i, table] of declared.entries()) {
    progress({ kind: 'tableStart', table: table.name, index: i, total: declared.length });
    const append = extraRows?.append.get(table.name) ?? [];
    await exportOneTable(run, writer, out, table.name, () =>
      exportTable(client, writer, table, i, sql, ctx, append),
    );
  }
  // Tables only closure added (not in the manifest): their rows come from the hook, not a query.
  for (const [name, rows] of extraRows?.tables ?? [])
    await exportOneTable(run, writer, out, name, () =>
      exportTable(client, writer, { name }, -1, null, ctx, rows),
    );
  writer.endTables();
  return out;
}

/** One table's section, its hash and timing; stops at the first findings without --allow-findings. */
async function exportOneTable(
  run: ExportRun,
  writer: CapsuleWriter,
  out: ExportedTables,
  name: string,
  writeRows: () => Promise<TableHasher>,
): Promise<void> {
  const tt = performance.now();
  writer.beginTable(name);
  const hasher = await writeRows();
  writer.endTable();
  const ms = performance.now() - tt;
  out.hashes[name] = { rows: hasher.rows, sha256: hasher.digest() };
  out.timings.push({ name, rows: hasher.rows, ms });
  run.progress({ kind: 'tableEnd', table: name, rows: hasher.rows, ms });
  if (out.state.findingsTotal > 0 && !run.options.allowFindings)
    throw findingsError(out.state.findingsTotal, out.findings);
}

/** The sections after `tables`: integrity, findings, the hooks' extra sections. Returns the content hash. */
function writeTrailer(
  writer: CapsuleWriter,
  subject: Record<string, string>,
  graph: GraphEntry[],
  tables: ExportedTables,
  extra: Record<string, unknown>,
): string {
  const contentSha256 = contentHash(subject, graph, tables.hashes);
  writer.writeSection('integrity', {
    algorithm: INTEGRITY_ALGORITHM,
    exporter: { name: TOOL_NAME, version: VERSION },
    tables: tables.hashes,
    contentSha256,
    ...(extra.schema !== undefined ? { schemaSha256: schemaSectionHash(extra.schema) } : {}),
  });
  if (tables.findings.length > 0) writer.writeSection('findings', tables.findings);
  for (const [key, value] of Object.entries(extra)) writer.writeSectionText(key, stringifyExact(value));
  return contentSha256;
}

/** The error to throw for a failed export, after removing the temp file. */
async function exportFailure(
  err: unknown,
  writer: CapsuleWriter | null,
  cancelling: Promise<void> | null,
  signal: AbortSignal | undefined,
): Promise<unknown> {
  const hadTemp = writer !== null;
  if (writer) await writer.abort();
  if (cancelling) await cancelling;
  if (signal?.aborted) return interruptedError(hadTemp);
  if (isConnectionLost(err)) {
    const reason = err instanceof ReplayError ? err.message : describePgError(err);
    return new FailureError(
      `export source: the connection to the database was lost during the export (${reason}); no capsule was written${hadTemp ? ' (its temp file was removed)' : ''}`,
      { cause: err },
    );
  }
  return err;
}

/** No declared table has a row for the subject: almost always a wrong subject or window. */
function emptySubjectError(subject: Record<string, string>, sinceDays: number): FailureError {
  const keys = Object.keys(subject).join(', ');
  return new FailureError(
    `the subject (${keys}) has no rows in any declared table: check the subject values (a mistyped or unknown subject exports nothing) and the history window (--since-days ${sinceDays}); pass --allow-empty to write the empty capsule anyway. No capsule was written.`,
    { field: '--subject' },
  );
}

/** Findings without `--allow-findings`: where they are, never what they are. */
function findingsError(total: number, findings: Finding[]): FailureError {
  const shown = findings.slice(0, 50);
  const lines = shown.map((f) => `  ${f.table}[${f.row}] ${f.path}: ${f.kind}`);
  if (total > shown.length) lines.push(`  … and ${total - shown.length} more`);
  return new FailureError(
    `the secret scanner found ${total} credential-looking ${total === 1 ? 'value' : 'values'} left after redaction (table[row] field: kind):\n${lines.join('\n')}\nAdd redactionRules for these fields, or pass --allow-findings to record them in the capsule's "findings" instead. No capsule was written.`,
  );
}

export interface ExplainOptions {
  manifest: Manifest;
  subject: Record<string, string>;
  sinceDays?: number;
  databaseUrl: string;
  statementTimeoutMs?: number;
}

/** `--explain`: EXPLAIN of the graph statement and every table statement, in the export snapshot. */
export async function explainExport(options: ExplainOptions): Promise<{ label: string; plan: string }[]> {
  const { manifest } = options;
  const subject = orderedSubject(manifest, options.subject);
  const sql = buildExportSql({ manifest, subject, sinceDays: options.sinceDays ?? DEFAULT_SINCE_DAYS });
  const client = await connect(options.databaseUrl, {
    role: 'export source',
    statementTimeoutMs: options.statementTimeoutMs,
    applicationName: `${TOOL_NAME} export`,
  });
  try {
    await openSnapshot(client, sql);
    const plans: { label: string; plan: string }[] = [];
    const explain = async (label: string, text: string) => {
      const r = await client.query({ text: `explain ${text}`, rowMode: 'array' });
      plans.push({ label, plan: r.rows.map((row) => String((row as unknown[])[0])).join('\n') });
    };
    try {
      await explain('graph', sql.graph);
    } catch (err) {
      const where = await findFailingEdge(client, sql);
      throw new FailureError(`${where}: ${describePgError(err)}`, { cause: err });
    }
    for (const [i, table] of manifest.postgres.tables.entries()) {
      const entry = tableEntry(i, table);
      try {
        await explain(
          entry,
          tableStatementText(sql.chain, table, await rowIsJsonb(client, table, sql.chain)),
        );
      } catch (err) {
        throw new FailureError(`${entry}: ${describePgError(err)}`, { cause: err });
      }
    }
    await client.query('rollback');
    return plans;
  } finally {
    await client.end().catch(() => {});
  }
}

function orderedSubject(manifest: Manifest, subject: Record<string, string>): Record<string, string> {
  const missing = checkSubject(manifest, subject);
  if (missing.length > 0) {
    throw new ReplayError(
      `missing subject ${missing.length === 1 ? 'key' : 'keys'}: ${missing.map((k) => `--subject ${k}=…`).join(' ')}`,
      2,
    );
  }
  return Object.fromEntries(manifest.subjectKeys.map((k) => [k, subject[k]!]));
}

/** Session settings that make to_jsonb output deterministic, and the snapshot transaction. */
async function openSnapshot(
  client: pg.Client,
  sql: ExportSql,
): Promise<{ exportedAt: string; sinceAt: string }> {
  try {
    await client.query(
      "set timezone = 'UTC'; set datestyle = 'ISO, MDY'; set intervalstyle = 'postgres'; set bytea_output = 'hex'; set extra_float_digits = 1",
    );
    await client.query('begin isolation level repeatable read read only');
    await client.query(sql.params.text, sql.params.values);
    const r = await client.query({ text: sql.window, rowMode: 'array' });
    const row = r.rows[0] as [string, string];
    return { exportedAt: row[0], sinceAt: row[1] };
  } catch (err) {
    throw new FailureError(`export source: cannot open the export snapshot: ${describePgError(err)}`, {
      cause: err,
    });
  }
}

async function readGraph(client: pg.Client, sql: ExportSql, manifest: Manifest): Promise<GraphEntry[]> {
  const graph: GraphEntry[] = [];
  const folded = manifest.subjectKeys.map((k) => [k, k.toLowerCase()] as const);
  try {
    await copyLines(client, sql.graph, (line) => {
      const g = JSON.parse(line) as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const [key, col] of folded) out[key] = g[col] ?? null;
      out.reasons = g.reasons;
      graph.push(out as GraphEntry);
    });
  } catch (err) {
    const where = await findFailingEdge(client, sql);
    throw new FailureError(`${where}: ${describePgError(err)}`, { cause: err });
  }
  return graph;
}

/** After the graph query failed: run each edge alone (fresh transactions) to name the culprit. */
async function findFailingEdge(client: pg.Client, sql: ExportSql): Promise<string> {
  await client.query('rollback').catch(() => {});
  for (const edge of sql.edges) {
    try {
      await client.query('begin isolation level repeatable read read only');
      await client.query(sql.params.text, sql.params.values);
      await client.query(edge.text);
      await client.query('rollback');
    } catch {
      await client.query('rollback').catch(() => {});
      return edge.entry;
    }
  }
  return 'postgres.graphEdges (the graph query)';
}

interface TableContext {
  /** Columns carried as text, per table (capsule `columnEncodings`). */
  encodings: ColumnEncodings;
  redactor: Redactor | null;
  scan: boolean;
  findings: Finding[];
  state: { redactionMs: number; findingsTotal: number };
  progress: (e: ExportProgress) => void;
}

/**
 * A rule can only match a row whose text contains `"<field>":` (jsonb writes keys that way); inside
 * a json column carried as text the key is escaped (`\"<field>\"`, maybe spaced before its colon).
 */
function redactionNeedles(fields: readonly string[], jsonText: boolean): string[] {
  const out: string[] = [];
  for (const f of new Set(fields)) {
    out.push(`${JSON.stringify(f)}:`);
    if (jsonText) out.push(JSON.stringify(JSON.stringify(f)).slice(1, -1));
  }
  return out;
}

interface HeaderInput {
  manifest: Manifest;
  exportedAt: string;
  window: { sinceDays: number; sinceAt: string };
  subject: Record<string, string>;
  graph: GraphEntry[];
  redaction: RedactionMode;
  databaseUrlEnv: string | undefined;
  encodings: ColumnEncodings;
}

/**
 * Everything before `tables`. A capsule with columns carried as text is schemaVersion 2 (its
 * `columnEncodings` change what those values mean); otherwise it stays version 1.
 */
function writeHeader(writer: CapsuleWriter, h: HeaderInput): void {
  const encoded = Object.fromEntries(
    Object.entries(h.encodings).filter(([, e]) => Object.keys(e).length > 0),
  );
  const v2 = Object.keys(encoded).length > 0;
  writer.writeSection('schemaVersion', v2 ? 2 : 1);
  writer.writeSection('app', h.manifest.appId);
  writer.writeSection('adapter', ADAPTER);
  writer.writeSection('exportedAt', h.exportedAt);
  writer.writeSection('window', h.window);
  writer.writeSection('subject', h.subject);
  writer.writeArraySection('graph', h.graph);
  writer.writeSection('redaction', h.redaction);
  writer.writeSection('source', {
    kind: 'postgres',
    ...(h.databaseUrlEnv ? { databaseUrlEnv: h.databaseUrlEnv } : {}),
    exportedBy: TOOL_NAME,
    exporterVersion: VERSION,
  });
  if (v2) writer.writeSection('columnEncodings', encoded);
}

/** Encodings of every manifest table exported with the default row (`to_jsonb(alias.*)`). */
async function tableEncodings(
  client: pg.Client,
  manifest: Manifest,
  chainSql: string,
): Promise<ColumnEncodings> {
  const classifier = new TypeClassifier(client);
  const out: ColumnEncodings = {};
  for (const [i, table] of manifest.postgres.tables.entries()) {
    if (table.rowSql !== undefined) continue;
    const from = table.from ?? defaultFrom(table);
    try {
      out[table.name] = await relationEncodings(
        client,
        classifier,
        `${chainSql}\nselect ${tableAlias(table)}.* from ${from} limit 0`,
      );
    } catch (err) {
      throw new FailureError(`${tableEntry(i, table)}: ${describePgError(err)}`, { cause: err });
    }
  }
  return out;
}

async function rowIsJsonb(client: pg.Client, table: ManifestTable, chainSql: string): Promise<boolean> {
  if (table.rowSql === undefined) return true;
  const from = table.from ?? defaultFrom(table);
  const r = await client.query(`${chainSql}\nselect (${table.rowSql}) as row_json from ${from} limit 0`);
  return r.fields[0]?.dataTypeID === JSONB_OID;
}

async function exportTable(
  client: pg.Client,
  writer: CapsuleWriter,
  table: ManifestTable,
  index: number,
  /** null: no query, only `extra` rows (a table added by referential closure). */
  sql: ExportSql | null,
  ctx: TableContext,
  /** Rows written after the query's rows (referential closure). */
  extra: readonly ExactJson[] = [],
): Promise<TableHasher> {
  const entry = sql ? tableEntry(index, table) : `referential closure (${table.name})`;
  const hasher = TableHasher.for(INTEGRITY_ALGORITHM);
  const rules = ctx.redactor?.appliesTo(table.name) ? ctx.redactor : null;
  const jsonCols = jsonEncodedColumns(ctx.encodings[table.name]);
  const needles = rules ? redactionNeedles(ctx.redactor!.fieldsFor(table.name), jsonCols !== null) : [];
  try {
    let lastReport = performance.now();
    // `line` is the server's jsonb text of the row unless `added` (a closure row, re-serialized).
    // The integrity hash (v2) is over the jsonb text: the server's line as it is, no parse.
    const onLine = (line: string, added?: Record<string, ExactJson>) => {
      if (line === COPY_NULL) throw new FailureError(`${entry}: rowSql returned NULL for row ${hasher.rows}`);
      const rowIndex = hasher.rows;
      const needsTree =
        (rules !== null && needles.some((n) => line.includes(n))) || (ctx.scan && mightHoldSecrets(line));
      if (!needsTree) {
        writer.writeRow(line);
        hasher.addCanonical(added ? jsonbText(added) : line);
        return;
      }
      const t = performance.now();
      const row = parseExact(line) as Record<string, ExactJson>;
      const redacted = new Set<string>();
      const opened = jsonCols ? openJsonColumns(row, jsonCols) : null;
      if (rules) rules.redactRow(table.name, row, (p) => redacted.add(p));
      if (ctx.scan) {
        const found = scanValue(row, '', { skip: redacted.size > 0 ? (p) => redacted.has(p) : undefined });
        for (const f of found) {
          ctx.state.findingsTotal++;
          if (ctx.findings.length < MAX_FINDINGS)
            ctx.findings.push({ table: table.name, row: rowIndex, ...f });
        }
      }
      if (opened)
        closeJsonColumns(row, jsonCols!, opened, (col) => [...redacted].some((p) => pathInColumn(p, col)));
      writer.writeRow(stringifyExact(row));
      hasher.addCanonical(jsonbText(row));
      ctx.state.redactionMs += performance.now() - t;
    };
    if (sql) {
      const query = tableStatementText(
        sql.chain,
        table,
        await rowIsJsonb(client, table, sql.chain),
        ctx.encodings[table.name],
      );
      await copyLines(client, query, onLine, async () => {
        await writer.flush();
        const now = performance.now();
        if (now - lastReport > 250) {
          lastReport = now;
          ctx.progress({ kind: 'tableRows', table: table.name, rows: hasher.rows });
        }
      });
    }
    for (const row of extra) {
      onLine(stringifyExact(row), row as Record<string, ExactJson>);
      if (hasher.rows % 1000 === 0) await writer.flush();
    }
  } catch (err) {
    if (err instanceof ReplayError) throw err;
    throw new FailureError(`${entry}: ${describePgError(err)}`, { cause: err });
  }
  return hasher;
}
