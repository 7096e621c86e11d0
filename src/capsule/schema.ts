/**
 * The replay capsule (what it holds and how each key is written: docs/export.md, "The capsule it
 * writes" and "Column encodings (schemaVersion 2)"; how it is read: docs/materialize.md, "Reading
 * the capsule").
 *
 * Version 1 is the original tool's shape; everything we add is an extra top-level key that a
 * version-1 reader ignores (`integrity`, `schema`, `closure`, `findings`). Row values are exact
 * JSON (see util/exact-json.ts), so `tables` is validated only as "objects in arrays".
 */
import { z } from 'zod';

/**
 * Version 2: per table, the columns whose values are carried as their PostgreSQL text output
 * where `to_jsonb` would lose or confuse them (postgres/copy/column-encoding.ts, docs/export.md):
 * `json` and `text` always (a JSON string), `jsonb` for a JSON string or JSON null value,
 * `array`/`jsonb[]` for arrays with explicit bounds (and, in jsonb[], null or array elements).
 */
const columnEncodingsSchema = z.record(
  z.string(),
  z.record(z.string(), z.enum(['json', 'text', 'jsonb', 'array', 'jsonb[]'])),
);

const graphEntrySchema = z.object({ reasons: z.array(z.string()) }).catchall(z.union([z.string(), z.null()]));

const tableIntegritySchema = z.object({
  rows: z.number().int().nonnegative(),
  /** Order-independent content hash of the table's rows: see capsule/integrity.ts. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});

const integritySchema = z.object({
  /**
   * How the hashes were computed, so a later reader knows which algorithm to repeat (see
   * capsule/integrity.ts): v1 hashes each row's canonical JSON, v2 its jsonb text (what Postgres
   * prints for `to_jsonb(row)::text`). Both are read; the exporter writes v2.
   */
  algorithm: z.enum(['replay-env.rows-sha256-sum.v1', 'replay-env.rows-sha256-sum.v2']),
  exporter: z.object({ name: z.string(), version: z.string() }),
  tables: z.record(z.string(), tableIntegritySchema),
  /** Hash over subject, graph and every table hash. */
  contentSha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** Hash of the `schema` section (capsule/integrity.ts schemaSectionHash), when the capsule has one. */
  schemaSha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
});

const findingSchema = z.object({
  table: z.string(),
  row: z.number().int().nonnegative(),
  path: z.string(),
  kind: z.string(),
});

const subjectRewriteSchema = z.object({
  from: z.record(z.string(), z.string()),
  to: z.record(z.string(), z.string()),
  at: z.string(),
});

/** Everything in a capsule except the table rows. */
export const capsuleHeaderSchema = z.looseObject({
  schemaVersion: z.union([z.literal(1), z.literal(2)], {
    error: (iss) => `must be 1 or 2, got ${JSON.stringify(iss.input)}`,
  }),
  app: z.string().min(1),
  adapter: z.string(),
  exportedAt: z.string().optional(),
  window: z.object({ sinceDays: z.number(), sinceAt: z.string() }).partial().optional(),
  subject: z.record(z.string(), z.string()),
  graph: z.array(graphEntrySchema),
  redaction: z.enum(['safe', 'raw']),
  source: z.looseObject({}).optional(),
  materialization: z.looseObject({ subjectScopeRewrite: subjectRewriteSchema.optional() }).optional(),
  integrity: integritySchema.optional(),
  /** extension: DDL of the exported tables (zero-setup replay). */
  schema: z.unknown().optional(),
  /** extension: rows added by referential closure, per table and reason. */
  closure: z.unknown().optional(),
  /** version 2: columns carried as text (honoured only when schemaVersion is 2). */
  columnEncodings: columnEncodingsSchema.optional(),
  /** extension: secret-scanner findings accepted with --allow-findings. */
  findings: z.array(findingSchema).optional(),
});

export type CapsuleHeader = z.infer<typeof capsuleHeaderSchema>;

/**
 * The original tool's materialize needs only `tables` and `subject`, so hand-written capsules and
 * other tools' exports may have no `redaction`. They load as `raw` — the cautious reading: nothing
 * says they were redacted — and the readers warn (`redactionAssumed`). Applied to the plain header
 * before validation.
 */
export function assumeRedaction(plain: unknown): unknown {
  if (!plain || typeof plain !== 'object' || Array.isArray(plain)) return plain;
  if ('redaction' in plain) return plain;
  return { ...plain, redaction: 'raw', redactionAssumed: true };
}

/** True when the capsule did not say how it was redacted (see assumeRedaction). */
export function redactionWasAssumed(header: CapsuleHeader): boolean {
  return (header as { redactionAssumed?: unknown }).redactionAssumed === true;
}

export const REDACTION_ASSUMED_WARNING =
  'the capsule does not say how it was redacted ("redaction" is missing): it is treated as raw — real, unredacted values';
export type CapsuleColumnEncodings = z.infer<typeof columnEncodingsSchema>;

/** The column encodings a loader must honour (none before version 2). */
export function columnEncodingsOf(
  header: Pick<CapsuleHeader, 'schemaVersion' | 'columnEncodings'>,
): CapsuleColumnEncodings {
  return header.schemaVersion >= 2 ? (header.columnEncodings ?? {}) : {};
}
export type GraphEntry = z.infer<typeof graphEntrySchema>;
export type Row = Record<string, import('../util/exact-json.js').ExactJson>;
