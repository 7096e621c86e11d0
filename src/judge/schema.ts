/**
 * The judgement: what `judge` decides about a trace. Versioned; schema/judgement.schema.json is
 * generated from it. One Markdown renderer (judge/markdown.ts) turns it into the CLI output, the
 * job summary, the check run and the PR comment.
 */
import { z } from 'zod';
import { decisionSchema } from '../trace/schema.js';

export const JUDGEMENT_SCHEMA_VERSION = 1;

const verdictSchema = z.enum(['pass', 'warn', 'fail', 'skip']);
export type Verdict = z.infer<typeof verdictSchema>;

const judgeResultSchema = z.object({
  /** e.g. capsule-integrity, materialization-integrity, no-external-side-effects, golden-match, duration */
  id: z.string(),
  title: z.string(),
  verdict: verdictSchema,
  summary: z.string(),
  /** Evidence lines, already safe to show (no capsule rows, secrets masked). */
  evidence: z.array(z.string()).default([]),
});

const differenceSchema = z.object({
  probe: z.string(),
  /** JSON path inside the probe's recorded result, e.g. $.http.json.items[0].name */
  path: z.string(),
  /** The path as public surfaces show it: response keys that are data are fingerprinted. */
  pathPublic: z.string().optional(),
  change: z.enum(['removed', 'added', 'changed', 'type', 'status', 'failed', 'new-error', 'pixels', 'rows']),
  risk: z.enum(['fail', 'warn', 'info']),
  /** The golden's and the trace's value (cut to 80 characters): for the judgement JSON only. */
  golden: z.string().optional(),
  actual: z.string().optional(),
  /**
   * What public surfaces (PR comment, check run, annotations, job summary, logs) show: for data
   * values a shape and a keyed fingerprint (`string(12) #3fa9c2d1`), for outcomes (status codes,
   * ok/failed, kinds, row counts) the text itself. Absent: nothing is shown.
   */
  goldenPublic: z.string().optional(),
  actualPublic: z.string().optional(),
});

/** One compared duration (judge/timing.ts): the numbers behind the duration judge. */
const timingRowSchema = z.object({
  /** "run" or "probe <name>". */
  name: z.string(),
  actualMs: z.number(),
  baselineMs: z.number(),
  /** How far the baseline's two runs differed (absent with one baseline run). */
  spreadMs: z.number().optional(),
  /** baseline + max(floor, spreadFactor × spread, tolerance × baseline). */
  allowedMs: z.number(),
  slower: z.boolean(),
});

/** What the trace was judged against. */
const baselineSchema = z.object({
  mode: z.enum(['golden', 'base-branch', 'none']),
  /** One line, e.g. "against the base branch on capsule 94f0c1d2e3f4" or "against golden golden/app/default.golden.json". */
  description: z.string(),
  capsuleSha256: z.string().optional(),
});

const annotationSchema = z.object({
  /** Repository-relative file path (manifest or golden). */
  path: z.string(),
  startLine: z.number().int().positive(),
  endLine: z.number().int().positive(),
  level: z.enum(['notice', 'warning', 'failure']),
  title: z.string().optional(),
  message: z.string(),
});

/** A step of the run that failed, as public surfaces show it (judge/failures.ts). */
const stepFailureSchema = z.object({
  /** e.g. `http probe "account"`, `loading the capsule`. */
  step: z.string(),
  /** The manifest name of the command or probe, when the step is one. */
  name: z.string().optional(),
  expected: z.string(),
  actual: z.string(),
});

/** Counts of one side of a table (db-state.ts): rows after materialize, after the run, written. */
const dbCountsSchema = z.object({
  rows: z.number().int().nonnegative(),
  after: z.number().int().nonnegative(),
  written: z.number().int().nonnegative(),
});

/** A table the run changed (or changed differently than the golden run): names and counts only. */
const databaseChangeSchema = z.object({
  table: z.string(),
  inGraph: dbCountsSchema,
  outside: dbCountsSchema,
  /** Rows outside the subject's graph the run wrote or deleted (the write_outside_subject risk). */
  outsideWrite: z.number().int().nonnegative(),
  /** Against the golden's records: absent when there was none to compare with. */
  golden: z.enum(['same', 'differs', 'content-differs']).optional(),
  goldenCounts: z.object({ inGraph: dbCountsSchema, outside: dbCountsSchema }).optional(),
});

/** The judgement's "Database changes": what the database-state judge saw. */
const databaseSummarySchema = z.object({
  /** False: the trace's snapshots failed (nothing compared). */
  recorded: z.boolean(),
  tables: z.array(databaseChangeSchema),
  /** Recorded tables the run left as they were. */
  unchanged: z.number().int().nonnegative(),
  ignoredTables: z.array(z.string()).default([]),
  ignoredColumns: z.array(z.string()).default([]),
});

export const judgementSchema = z.object({
  schemaVersion: z.literal(JUDGEMENT_SCHEMA_VERSION),
  kind: z.literal('replay-env.judgement'),
  app: z.string(),
  scenario: z.string().optional(),
  createdAt: z.string(),
  decision: decisionSchema,
  /** Why: the policy conditions that held, in order of severity. */
  reasons: z.array(z.string()),
  /** A human-review condition held (shown as such; the decision is at least warn). */
  humanReview: z.boolean(),
  judges: z.array(judgeResultSchema),
  differences: z.array(differenceSchema).default([]),
  /** Every duration the duration judge compared, with its numbers. */
  timing: z.array(timingRowSchema).default([]),
  baseline: baselineSchema.optional(),
  /** The facts the policy was evaluated on. */
  facts: z.record(z.string(), z.union([z.boolean(), z.number(), z.string()])),
  trace: z.object({ path: z.string().optional(), sha256: z.string().optional() }),
  golden: z.object({ path: z.string() }).nullable().default(null),
  policy: z.object({ path: z.string(), name: z.string().optional() }),
  /** What the run changed in the database (absent: the trace recorded no database state). */
  database: databaseSummarySchema.optional(),
  /** Failing steps of the run with expected vs actual (shown without a golden too). */
  failures: z.array(stepFailureSchema).default([]),
  annotations: z.array(annotationSchema).default([]),
  /** Paths of evidence files (screenshots…) relative to the judgement file. */
  evidence: z.array(z.string()).default([]),
});

export type Judgement = z.infer<typeof judgementSchema>;
export type JudgeResult = z.infer<typeof judgeResultSchema>;
export type Difference = z.infer<typeof differenceSchema>;
export type Annotation = z.infer<typeof annotationSchema>;
export type StepFailure = z.infer<typeof stepFailureSchema>;
export type Baseline = z.infer<typeof baselineSchema>;
export type DatabaseChange = z.infer<typeof databaseChangeSchema>;
export type DatabaseSummary = z.infer<typeof databaseSummarySchema>;
