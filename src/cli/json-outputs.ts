/**
 * The shapes of the `--json` documents the CLI prints, as zod schemas (published by
 * scripts/schemas.ts into schema/*.schema.json). One shape everywhere for what several commands
 * report — inspect's:
 *   tables:  [{name, rows, …}]                 rows per table (alphabetical)
 *   closure: [{name, rows, reasons?, …}] | null rows added by referential closure, per table
 *   graph:   {subjects, entries?}               the subject graph
 * Objects are loose: fields may be added later, never renamed or removed.
 */
import { z } from 'zod';
import { tableCountSchema } from '../trace/schema.js';

const tableRowsSchema = z
  .looseObject({
    name: z.string().describe('Table name.'),
    rows: z
      .number()
      .int()
      .describe('Rows of this table in the capsule (export, inspect) or loaded (materialize).'),
  })
  .describe('One table.');

const closureRowsSchema = z
  .array(
    z.looseObject({
      name: z.string(),
      rows: z.number().int().describe('Rows referential closure added to this table.'),
      reasons: z
        .record(z.string(), z.number().int())
        .optional()
        .describe(
          'Rows per foreign key that pulled them in ("fk:<constraint>"); a row may count for several.',
        ),
    }),
  )
  .nullable()
  .describe('Referential-closure rows per table; null when the capsule has no closure record.');

const graphSummarySchema = z.looseObject({
  subjects: z
    .number()
    .int()
    .describe('Subjects in the subject graph (the exported subject and those it pulled in).'),
  entries: z
    .array(z.looseObject({ key: z.record(z.string(), z.string().nullable()), reasons: z.array(z.string()) }))
    .optional()
    .describe('Each graph subject: its key columns and why it is in the graph (inspect only).'),
});

const fileSchema = z.looseObject({
  path: z.string(),
  bytes: z.number().int(),
  sha256: z.string().describe('sha256 of the file as written (hex).'),
});

export const exportOutputSchema = z.looseObject({
  ...fileSchema.shape,
  gzip: z.boolean(),
  encrypted: z.boolean().optional(),
  app: z.string(),
  redaction: z.enum(['safe', 'raw']),
  exportedAt: z.string(),
  window: z.looseObject({ sinceDays: z.number(), sinceAt: z.string() }),
  subject: z.record(z.string(), z.string()),
  graph: graphSummarySchema,
  tables: z.array(tableRowsSchema).describe('Rows exported per table (closure rows included), alphabetical.'),
  totalRows: z.number().int(),
  closure: closureRowsSchema,
  closureDetails: z
    .looseObject({
      totalRows: z.number().int(),
      maxRows: z.number().int(),
      addedTables: z.array(z.string()).describe('Tables the manifest does not declare that closure added.'),
      skipped: z.array(z.looseObject({ constraint: z.string(), table: z.string(), reason: z.string() })),
      missing: z.record(z.string(), z.number().int()).describe('Dangling references per foreign key.'),
    })
    .nullable()
    .describe('What closure did besides adding rows; null when closure is off.'),
  warnings: z
    .array(
      z.looseObject({
        code: z.literal('empty_table'),
        table: z.string(),
        windowed: z.boolean(),
        message: z.string(),
      }),
    )
    .describe('Declared tables exported empty (widen --since-days when `windowed`).'),
  findings: z.array(z.unknown()).describe('Secret-scanner findings (fingerprints only).'),
  integrity: z.looseObject({ contentSha256: z.string() }),
  timings: z.looseObject({ totalMs: z.number() }),
  encryptedTo: z.string().optional().describe('Fingerprint of the X25519 key the capsule is encrypted to.'),
  schema: z.boolean().optional().describe('Whether the capsule carries the schema section.'),
});

export const inspectOutputSchema = z.looseObject({
  file: fileSchema.extend({ encoding: z.enum(['json', 'gzip', 'encrypted']) }),
  app: z.string(),
  adapter: z.string(),
  schemaVersion: z.number().int(),
  exportedAt: z.string().nullable(),
  window: z.looseObject({ sinceDays: z.number().nullable(), sinceAt: z.string().nullable() }).nullable(),
  subject: z.record(z.string(), z.string()),
  redaction: z.enum(['safe', 'raw']),
  subjectRewrite: z.unknown(),
  graph: graphSummarySchema,
  tables: z.array(tableRowsSchema),
  totalRows: z.number().int(),
  closure: closureRowsSchema,
  findings: z.number().int().describe('How many secret-scanner findings the capsule records.'),
  integrity: z.looseObject({
    present: z.boolean(),
    algorithm: z.string().nullable(),
    contentSha256: z.string().nullable(),
  }),
  source: z.record(z.string(), z.unknown()).nullable(),
});

export const materializeOutputSchema = z.looseObject({
  target: z.string().describe('The database URL, password hidden (full URL for a kept embedded server).'),
  capsule: z.string(),
  status: z.enum(['ok', 'explained']),
  strategy: z.string(),
  tables: z
    .array(
      tableRowsSchema.extend({
        capsule: z.number().int().describe('Rows of this table in the capsule.'),
        database: z.number().int().nullable().describe('Rows counted in the database after the load.'),
        hashMatch: z
          .boolean()
          .nullable()
          .describe('Content hash equal to the capsule’s; null when not checked.'),
        ms: z.number().optional(),
        rowsPerSec: z.number().optional(),
      }),
    )
    .describe(
      'Per table, alphabetical: rows loaded and the verification (`counts`, merged with load stats).',
    ),
  totalRows: z.number().int(),
  closure: z
    .array(
      z.looseObject({
        name: z.string(),
        rows: z.number().int(),
        alreadyPresent: z
          .number()
          .int()
          .describe('Closure rows the target already held (kept as they were).'),
        check: z.enum(['key', 'whole-table', 'no-key']),
      }),
    )
    .nullable()
    .describe('Referential-closure rows loaded per table; null when the capsule has none.'),
  closureDetails: z.looseObject({ rows: z.number().int(), alreadyPresent: z.number().int() }).nullable(),
  counts: z
    .array(tableCountSchema)
    .describe('Per table in load order: the same verification as the trace’s materialization.counts.'),
  loadOrder: z.array(z.string()),
  hashCheck: z.string(),
  warnings: z.array(z.string()),
  durationMs: z.number(),
  schemaSource: z.enum(['capsule', 'setup', 'existing']),
  embedded: z.boolean(),
});
