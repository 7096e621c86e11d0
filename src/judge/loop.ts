/**
 * The judges' part of the operating loop as data: judges.yaml and scenarios.yaml. Every file is
 * validated with zod; errors name the file and the path. The whole loop folder (loop.yaml, and
 * gate.yaml through gate/policy.ts) is loaded by gate/loop.ts.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { InputError } from '../errors.js';
import { loopDir } from '../util/package-root.js';
import { readYamlFile, validateFile } from '../util/yaml-file.js';
import { formatPath, invalidFile } from '../util/zod-issues.js';

const JUDGE_IDS = [
  'capsule-integrity',
  'materialization-integrity',
  'no-external-side-effects',
  'golden-match',
  'duration',
  'database-state',
] as const;
export type JudgeId = (typeof JUDGE_IDS)[number];

const text = z.string().min(1);

const judgeText = { title: text, enabled: z.boolean().default(true), pass: text, warn: text, fail: text };

const judgeEntrySchema = z.discriminatedUnion(
  'id',
  [
    z.strictObject({ id: z.literal('capsule-integrity'), ...judgeText }),
    z.strictObject({ id: z.literal('materialization-integrity'), ...judgeText }),
    z.strictObject({ id: z.literal('no-external-side-effects'), ...judgeText }),
    z.strictObject({ id: z.literal('database-state'), ...judgeText }),
    z.strictObject({
      id: z.literal('golden-match'),
      ...judgeText,
      options: z.strictObject({ screenshotThreshold: z.number().min(0).max(1).optional() }).default({}),
    }),
    z.strictObject({
      id: z.literal('duration'),
      ...judgeText,
      options: z
        .strictObject({
          tolerance: z.number().nonnegative().optional(),
          /** Older name of floorMs. */
          minSlowdownMs: z.number().nonnegative().optional(),
          /** Absolute noise floor: slowdowns up to this many ms are never reported (default 1000). */
          floorMs: z.number().nonnegative().optional(),
          /** The whole run's noise floor (default 5000). */
          runFloorMs: z.number().nonnegative().optional(),
          /** How many learned spreads a duration may exceed its baseline by (default 3). */
          spreadFactor: z.number().nonnegative().optional(),
        })
        .default({}),
    }),
  ],
  {
    error: (iss) =>
      iss.code === 'invalid_union'
        ? `must be one of ${JUDGE_IDS.join(', ')}, got ${JSON.stringify((iss.input as { id?: unknown })?.id)}`
        : undefined,
  },
);

const judgesFileSchema = z.strictObject({
  version: z.literal(1, { error: 'must be 1' }),
  judges: z.array(judgeEntrySchema),
});

export type JudgesConfig = z.output<typeof judgesFileSchema>;
export type JudgeConfigEntry = JudgesConfig['judges'][number];

export const scenarioSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, {
    error: 'must be lowercase letters, digits, ".", "_" or "-" (it names the golden file)',
  }),
  title: text,
  risk: z.enum(['low', 'medium', 'high', 'critical']),
  /** A capsule path, or a workflow artifact name. */
  capsule: z.union(
    [
      text.transform((path) => ({ path })),
      z.strictObject({ path: text }),
      z.strictObject({ artifact: text }),
    ],
    {
      error: 'must be a path string, {path: ...} or {artifact: ...}',
    },
  ),
  /**
   * Pins the capsule (its file's sha256): a trace of another capsule blocks (fact
   * scenario_capsule_mismatch), so the gate never compares across capsules by accident.
   */
  capsuleSha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/, { error: 'must be a capsule file sha256 (64 lowercase hex digits)' })
    .optional(),
  subjectRewrite: z.record(z.string(), z.string()).optional(),
  steps: z.array(z.strictObject({ step: text, expect: text })).default([]),
  /** Manifest probe names the scenario needs; a missing one is the fact required_probe_missing. */
  probes: z.array(text).default([]),
  /** Tables that must be non-empty for the flow (fact interaction_tables_empty). */
  interactionTables: z.array(text).optional(),
  /** The golden file; default <golden dir>/<id>.golden.json. */
  golden: text.optional(),
  judges: z.array(z.enum(JUDGE_IDS)).optional(),
  maxDurationSeconds: z.number().positive(),
  requiredFor: z.array(z.enum(['merge', 'release'])).default([]),
  /**
   * The escaped bug this scenario guards against: an issue URL or a tracker reference (one line).
   * Optional: registries written before `scenario add` have none.
   */
  bug: z
    .string()
    .min(1)
    .max(500)
    .regex(/^[^\r\n\u0000]*$/, { error: 'must be one line (an issue URL or a tracker reference)' })
    .optional(),
});

export type Scenario = z.output<typeof scenarioSchema>;

export const scenariosFileSchema = z.strictObject({
  version: z.literal(1, { error: 'must be 1' }),
  scenarios: z.array(scenarioSchema),
});

export function loadJudgesConfig(path: string = join(loopDir(), 'judges.yaml')): JudgesConfig {
  const cfg = validateFile(judgesFileSchema, readYamlFile(path, 'judges file'), path, 'judges file');
  const seen = new Set<string>();
  const problems: string[] = [];
  cfg.judges.forEach((j, i) => {
    if (seen.has(j.id)) problems.push(`${formatPath(['judges', i, 'id'])}: duplicate judge ${j.id}`);
    seen.add(j.id);
  });
  if (problems.length) throw invalidFile(path, 'judges file', problems);
  return cfg;
}

export function loadScenarios(path: string = join(loopDir(), 'scenarios.yaml')): Scenario[] {
  const file = validateFile(
    scenariosFileSchema,
    readYamlFile(path, 'scenarios file'),
    path,
    'scenarios file',
  );
  const seen = new Map<string, number>();
  const problems: string[] = [];
  file.scenarios.forEach((s, i) => {
    const prev = seen.get(s.id);
    if (prev !== undefined)
      problems.push(
        `${formatPath(['scenarios', i, 'id'])}: duplicate scenario ${s.id} (also scenarios[${prev}])`,
      );
    seen.set(s.id, i);
  });
  if (problems.length) throw invalidFile(path, 'scenarios file', problems);
  return file.scenarios;
}

export function findScenario(scenarios: Scenario[], id: string, path: string): Scenario {
  const s = scenarios.find((x) => x.id === id);
  if (!s) {
    throw new InputError(
      `${path}: no scenario ${JSON.stringify(id)} is registered (known: ${scenarios.map((x) => x.id).join(', ') || 'none'})`,
    );
  }
  return s;
}

export function judgeConfig(cfg: JudgesConfig | undefined, id: JudgeId): JudgeConfigEntry | undefined {
  return cfg?.judges.find((j) => j.id === id);
}
