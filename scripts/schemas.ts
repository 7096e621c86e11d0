/**
 * The JSON Schemas we publish in schema/, generated from the zod schemas (the single source of
 * truth). Add an entry here to publish another; `npm run schemas` writes them and a test fails
 * when a file on disk is stale.
 */
import { z } from 'zod';
import { capsuleHeaderSchema } from '../src/capsule/schema.js';
import { cliErrorSchema } from '../src/cli/json-error.js';
import { exportOutputSchema, inspectOutputSchema, materializeOutputSchema } from '../src/cli/json-outputs.js';
import {
  scenarioAddOutputSchema,
  scenarioListOutputSchema,
  scenarioRemoveOutputSchema,
} from '../src/cli/scenario-json.js';
import { scenariosFileSchema } from '../src/judge/loop.js';
import { judgementSchema } from '../src/judge/schema.js';
import { manifestSchema } from '../src/manifest/schema.js';
import { doctorReportSchema } from '../src/postgres/doctor/report.js';
import { traceSchema } from '../src/trace/schema.js';

export interface PublishedSchema {
  /** Path under the repository root. */
  file: string;
  title: string;
  description: string;
  schema: z.ZodType;
  /**
   * `input` describes what a user may write (optional and defaulted fields are optional);
   * `output` what the tool writes.
   */
  io: 'input' | 'output';
}

export const PUBLISHED_SCHEMAS: PublishedSchema[] = [
  {
    file: 'schema/manifest.schema.json',
    title: 'replay-env app manifest',
    description:
      'One JSON manifest per app (config/apps/<app>.json). Unknown keys are accepted and listed by `replay-env doctor`.',
    schema: manifestSchema,
    io: 'input',
  },
  {
    file: 'schema/capsule-header.schema.json',
    title: 'replay-env capsule (everything except table rows)',
    description:
      'A replay capsule, schemaVersion 1 or 2 (2 adds `columnEncodings`); `tables` maps table names to arrays of row objects.',
    schema: capsuleHeaderSchema,
    io: 'input',
  },
  {
    file: 'schema/trace.schema.json',
    title: 'replay-env trace',
    description: 'What `replay-env run` records.',
    schema: traceSchema,
    io: 'output',
  },
  {
    file: 'schema/judgement.schema.json',
    title: 'replay-env judgement',
    description: 'What `replay-env judge` writes.',
    schema: judgementSchema,
    io: 'output',
  },
  {
    file: 'schema/cli-error.schema.json',
    title: 'replay-env --json failure',
    description:
      'What every command prints on stdout with --json (or --format json) when it fails: one document, exit code non-zero.',
    schema: cliErrorSchema,
    io: 'output',
  },
  {
    file: 'schema/export-output.schema.json',
    title: 'replay-env export-postgres --json',
    description:
      'What `replay-env export-postgres --json` prints on success. `tables`, `closure` and `graph` have the same shape as in inspect and materialize-postgres.',
    schema: exportOutputSchema,
    io: 'output',
  },
  {
    file: 'schema/inspect-output.schema.json',
    title: 'replay-env inspect --json',
    description: 'What `replay-env inspect --json` prints: a capsule summary (no row values).',
    schema: inspectOutputSchema,
    io: 'output',
  },
  {
    file: 'schema/materialize-output.schema.json',
    title: 'replay-env materialize-postgres --json',
    description:
      'What `replay-env materialize-postgres --json` prints on success. `tables` and `closure` have the same shape as in export-postgres and inspect.',
    schema: materializeOutputSchema,
    io: 'output',
  },
  {
    file: 'schema/doctor-output.schema.json',
    title: 'replay-env doctor --json',
    description: 'What `replay-env doctor --json` prints: every check, its status and message.',
    schema: doctorReportSchema,
    io: 'output',
  },
  {
    file: 'schema/scenario-add-output.schema.json',
    title: 'replay-env scenario add --json',
    description:
      'What `replay-env scenario add --json` prints once the scenario is registered: the entry, where the capsule is, the replay’s decision, whether the golden was blessed, the files to commit and the next steps.',
    schema: scenarioAddOutputSchema,
    io: 'output',
  },
  {
    file: 'schema/scenario-list-output.schema.json',
    title: 'replay-env scenario list --json',
    description:
      'What `replay-env scenario list --json` prints: the registry’s scenarios with their golden and capsule.',
    schema: scenarioListOutputSchema,
    io: 'output',
  },
  {
    file: 'schema/scenario-remove-output.schema.json',
    title: 'replay-env scenario remove --json',
    description:
      'What `replay-env scenario remove --json` prints: the removed entry and what to do with its files.',
    schema: scenarioRemoveOutputSchema,
    io: 'output',
  },
  {
    file: 'schema/scenarios.schema.json',
    title: 'replay-env scenario registry',
    description:
      'loops/user-history-replay/scenarios.yaml (or the Action’s scenarios-file): every escaped bug becomes a scenario here.',
    schema: scenariosFileSchema,
    io: 'input',
  },
];

/** The file's exact text for one entry (stable: 2-space JSON, trailing newline). */
export function renderSchema(entry: PublishedSchema): string {
  const json = z.toJSONSchema(entry.schema, {
    io: entry.io,
    target: 'draft-2020-12',
    unrepresentable: 'any',
  }) as Record<string, unknown>;
  const { $schema, ...rest } = json;
  const doc = {
    $schema,
    $id: `https://replay-env.dev/${entry.file}`,
    title: entry.title,
    description: entry.description,
    ...rest,
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}
