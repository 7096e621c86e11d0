/**
 * The run trace: everything a replay leaves as evidence (docs/run.md, "The trace").
 * Versioned; the JSON Schema in schema/trace.schema.json is generated from this file.
 * A trace never contains capsule rows beyond what probes themselves recorded.
 */
import { z } from 'zod';
import { scenarioIdSchema } from '../util/scenario-id.js';

const TRACE_SCHEMA_VERSION = 1;

export const decisionSchema = z.enum(['block', 'warn', 'continue']);
export type Decision = z.infer<typeof decisionSchema>;

export const tableCountSchema = z.object({
  table: z.string(),
  capsule: z.number().int().nonnegative(),
  database: z.number().int().nonnegative().nullable(),
  /** Content hash check when the capsule carried one: true/false, null when not checked. */
  hashMatch: z.boolean().nullable().optional(),
});

const traceCapsuleSchema = z.object({
  path: z.string(),
  sha256: z.string(),
  sizeBytes: z.number().int().nonnegative().optional(),
  /** The capsule's integrity.contentSha256: the same data gives the same hash, whenever exported. */
  contentSha256: z.string().optional(),
  /** When the capsule was exported (its header's exportedAt). */
  exportedAt: z.string().optional(),
  app: z.string(),
  subject: z.record(z.string(), z.string()),
  redaction: z.enum(['safe', 'raw']),
  graph: z.array(
    z.object({ key: z.record(z.string(), z.string().nullable()), reasons: z.array(z.string()) }),
  ),
  tables: z.record(z.string(), z.number().int().nonnegative()),
  /** Present when the materialization rewrote the subject. */
  subjectRewrite: z
    .object({ from: z.record(z.string(), z.string()), to: z.record(z.string(), z.string()) })
    .optional(),
  findings: z.number().int().nonnegative().optional(),
});

const materializationSchema = z.object({
  status: z.enum(['ok', 'failed', 'skipped']),
  strategy: z.enum(['jsonb', 'copy']).optional(),
  durationMs: z.number().nonnegative().optional(),
  phases: z.record(z.string(), z.number().nonnegative()).optional(),
  counts: z.array(tableCountSchema).default([]),
  error: z.string().optional(),
  /** Rows of undeclared tables deleted with --delete-dependents (never silently). */
  dependentsDeleted: z
    .array(
      z.object({ table: z.string(), constraint: z.string(), references: z.string(), rows: z.number().int() }),
    )
    .optional(),
  /** Output of a failing migration (migration replay). */
  migration: z
    .object({ command: z.string(), exitCode: z.number().nullable(), outputTail: z.string() })
    .optional(),
});

const httpResultSchema = z.object({
  method: z.string(),
  url: z.string(),
  status: z.number().int().nullable(),
  headers: z.record(z.string(), z.string()).optional(),
  /** Parsed JSON body, when the response was JSON. */
  json: z.unknown().optional(),
  /** A bounded tail of a non-JSON body. */
  text: z.string().optional(),
  attempts: z.number().int().positive().optional(),
});

const commandResultSchema = z.object({
  command: z.string(),
  exitCode: z.number().int().nullable(),
  signal: z.string().nullable().optional(),
  timedOut: z.boolean().optional(),
  stdoutTail: z.string().optional(),
  stderrTail: z.string().optional(),
});

const sqlResultSchema = z.object({
  query: z.string(),
  columns: z.array(z.string()),
  rows: z.array(z.array(z.unknown())),
  rowCount: z.number().int().nonnegative(),
  truncated: z.boolean(),
  /** True when the query has a top-level ORDER BY (row order is then significant). */
  ordered: z.boolean().optional(),
});

const browserResultSchema = z.object({
  url: z.string(),
  finalUrl: z.string().optional(),
  title: z.string().optional(),
  /** Screenshot path relative to the trace file. */
  screenshot: z.string().optional(),
  consoleErrors: z.array(z.string()).default([]),
  failedRequests: z.array(z.object({ url: z.string(), failure: z.string() })).default([]),
  /**
   * Outbound attempts Chromium made on its own (sign-in, component updates, …), to hosts the page
   * never requested: not the app's doing, so they are kept here and not in the trace's `outbound`.
   */
  browserTraffic: z
    .array(z.object({ host: z.string(), port: z.number().int(), allowed: z.boolean() }))
    .optional(),
});

const traceEventSchema = z.object({
  /** Manifest name of the command or probe. */
  name: z.string(),
  kind: z.enum([
    'command',
    'background-start',
    'background-stop',
    'probe-http',
    'probe-command',
    'probe-sql',
    'probe-browser',
    'setup',
    'migrate',
  ]),
  ok: z.boolean(),
  allowFailure: z.boolean().optional(),
  startedAt: z.string(),
  durationMs: z.number().nonnegative(),
  error: z.string().optional(),
  http: httpResultSchema.optional(),
  command: commandResultSchema.optional(),
  sql: sqlResultSchema.optional(),
  browser: browserResultSchema.optional(),
});

const outboundAttemptSchema = z.object({
  host: z.string(),
  port: z.number().int(),
  method: z.string(),
  allowed: z.boolean(),
  at: z.string(),
  /** Which command/probe was running, when known. */
  during: z.string().optional(),
});

/** One side of a table (the subject's graph, or the rows outside it) in one snapshot. */
const dbStateSideSchema = z.object({
  rows: z.number().int().nonnegative(),
  /** Order-independent digest of the rows (ignored columns left out): no value can be read from it. */
  digest: z.string(),
  /** Rows inserted or updated since the after-materialize snapshot (after the probes only). */
  written: z.number().int().nonnegative().optional(),
});

const dbStateSnapshotSchema = z.object({
  /** The table was not in the database. */
  missing: z.boolean().optional(),
  inGraph: dbStateSideSchema,
  outside: dbStateSideSchema,
});

/**
 * The database state (postgres/db-state/snapshot.ts): per table of the capsule, counts and digests
 * right after materialize and again after the probes, split into the subject's graph and the rows
 * outside it. Names tables and counts, never values.
 */
export const databaseStateSchema = z.object({
  /** Tables the manifest's databaseState.ignoreTables leaves out (not recorded). */
  ignoredTables: z.array(z.string()).default([]),
  /** Columns left out of the digests, as declared (`column` or `table.column`). */
  ignoredColumns: z.array(z.string()).default([]),
  tables: z.array(
    z.object({
      table: z.string(),
      afterMaterialize: dbStateSnapshotSchema,
      afterProbes: dbStateSnapshotSchema.optional(),
    }),
  ),
  /** Why a snapshot could not be taken (the first line of the error). */
  error: z.string().optional(),
});

export const traceSchema = z.object({
  schemaVersion: z.literal(TRACE_SCHEMA_VERSION),
  kind: z.literal('replay-env.trace'),
  app: z.string(),
  /** Names the golden file: a strict id (util/scenario-id.ts). */
  scenario: scenarioIdSchema.optional(),
  startedAt: z.string(),
  finishedAt: z.string(),
  durationMs: z.number().nonnegative(),
  capsule: traceCapsuleSchema.nullable(),
  materialization: materializationSchema,
  events: z.array(traceEventSchema),
  outbound: z.array(outboundAttemptSchema).default([]),
  artifacts: z
    .array(z.object({ kind: z.string(), path: z.string(), probe: z.string().optional() }))
    .default([]),
  environment: z.object({
    tool: z.string(),
    toolVersion: z.string(),
    node: z.string(),
    postgres: z.string().nullable(),
    gitCommit: z.string().nullable(),
    platform: z.string().optional(),
  }),
  /** Per-table database state after materialize and after the probes (absent: not recorded). */
  databaseState: databaseStateSchema.optional(),
  /** The run's own gate: block when materialization or a required command/probe failed. */
  gate: z.object({ decision: decisionSchema, reasons: z.array(z.string()) }),
});

export type Trace = z.infer<typeof traceSchema>;
export type TraceEvent = z.infer<typeof traceEventSchema>;
export type OutboundAttempt = z.infer<typeof outboundAttemptSchema>;
export type MaterializationRecord = z.infer<typeof materializationSchema>;
export type DatabaseState = z.infer<typeof databaseStateSchema>;
export type DbStateSnapshotRecord = z.infer<typeof dbStateSnapshotSchema>;
