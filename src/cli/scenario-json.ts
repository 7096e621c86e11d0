/**
 * The `--json` documents of `scenario add`, `scenario list` and `scenario remove` (published by
 * scripts/schemas.ts into schema/scenario-*.schema.json). Paths are relative to the repository
 * (the current directory). Objects are loose: fields may be added later, never renamed or removed.
 */
import { z } from 'zod';

const decisionSchema = z.enum(['continue', 'warn', 'block']);

/** A registry entry as written (the registry's own schema is judge/loop.ts `scenarioSchema`). */
const entrySchema = z
  .looseObject({
    id: z.string(),
    title: z.string(),
    risk: z.enum(['low', 'medium', 'high', 'critical']),
    bug: z.string().optional(),
    capsule: z.union([z.looseObject({ path: z.string() }), z.looseObject({ artifact: z.string() })]),
    capsuleSha256: z.string().optional(),
    probes: z.array(z.string()),
    golden: z.string().optional(),
    requiredFor: z.array(z.enum(['merge', 'release'])),
  })
  .describe('The scenario as the registry holds it.');

const nextSchema = z.array(z.string()).describe('What to do next, one step per line (for a human).');

export const scenarioAddOutputSchema = z.looseObject({
  kind: z.literal('replay-env.scenario-add'),
  registry: z.string().describe('The registry file the entry was appended to.'),
  registryCreated: z.boolean().describe('True when this add created the registry file.'),
  scenario: entrySchema,
  capsule: z.looseObject({
    path: z.string().describe('Where the capsule is stored (under the git-ignored capsules/).'),
    source: z.enum(['export', 'capsule']).describe('Exported from the subject, or an existing capsule.'),
    copied: z.boolean().describe('False when an existing capsule under capsules/ is used where it is.'),
    encrypted: z.boolean(),
    sha256: z.string().describe('sha256 of the stored file.'),
    redaction: z.enum(['safe', 'raw']).optional().describe('How it was exported (exports only).'),
  }),
  trace: z.string().describe('The trace of the replay.'),
  judgement: z.string().describe('The judgement of that trace (a judgement.schema.json document).'),
  decision: decisionSchema.describe(
    'The judge’s decision on the replay: block is expected while the bug is not yet fixed.',
  ),
  reasons: z.array(z.string()),
  golden: z.looseObject({
    path: z.string().describe('The scenario’s golden file (recorded in the entry).'),
    blessed: z.boolean().describe('True when this add wrote the golden from the trace.'),
    why: z.string().optional().describe('Why it was not blessed.'),
  }),
  commit: z.array(z.string()).describe('The files to commit (never the capsule).'),
  next: nextSchema,
});
export type ScenarioAddOutput = z.infer<typeof scenarioAddOutputSchema>;

export const scenarioListOutputSchema = z.looseObject({
  kind: z.literal('replay-env.scenario-list'),
  registry: z.string(),
  exists: z.boolean().describe('False when there is no registry file (no scenarios).'),
  scenarios: z.array(
    entrySchema.extend({
      goldenPath: z.string().describe('The golden file the judge uses for it.'),
      goldenExists: z.boolean(),
      capsuleExists: z
        .boolean()
        .nullable()
        .describe('Whether the capsule file is here (null for an artifact capsule).'),
    }),
  ),
});

export const scenarioRemoveOutputSchema = z.looseObject({
  kind: z.literal('replay-env.scenario-remove'),
  registry: z.string(),
  removed: entrySchema,
  golden: z.looseObject({ path: z.string(), exists: z.boolean() }),
  capsule: z.looseObject({
    path: z.string().optional(),
    artifact: z.string().optional(),
    exists: z.boolean().nullable(),
  }),
  next: nextSchema,
});
