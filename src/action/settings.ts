/**
 * The Action's settings: every input, read once (inputs.ts) and validated here. Stages never call
 * core.getInput; they receive this object.
 */
import { z } from 'zod';

export const DEFAULT_DATABASE_URL = 'postgres://postgres:postgres@localhost:5432/postgres';
export const DEFAULT_SCENARIOS_FILE = 'loops/user-history-replay/scenarios.yaml';

const optionalText = z
  .string()
  .transform((s) => s.trim())
  .transform((s) => (s === '' ? undefined : s));

const onOff = z
  .string()
  .trim()
  .toLowerCase()
  .refine((s) => ['on', 'off', 'true', 'false', 'yes', 'no', '1', '0', ''].includes(s), {
    message: 'must be on or off (true/false)',
  })
  .transform((s) => ['on', 'true', 'yes', '1'].includes(s));

const positiveInt = (what: string) =>
  z
    .string()
    .trim()
    .refine((s) => /^[0-9]+$/.test(s) && Number(s) > 0, {
      message: `must be a positive whole number of ${what}`,
    })
    .transform(Number);

/** `2/4` → shard 2 of 4 (1-based). */
const shardSchema = z
  .string()
  .trim()
  .transform((s, ctx) => {
    if (s === '') return undefined;
    const m = /^([0-9]+)\s*\/\s*([0-9]+)$/.exec(s);
    const index = m ? Number(m[1]) : Number.NaN;
    const total = m ? Number(m[2]) : Number.NaN;
    if (!m || total < 1 || index < 1 || index > total) {
      ctx.addIssue({ code: 'custom', message: 'must look like 2/4 (shard index from 1 to the total)' });
      return z.NEVER;
    }
    return { index, total };
  });
export type Shard = { index: number; total: number };

/** `k=v` pairs, one per line or comma separated. */
const keyValues = z.string().transform((s, ctx) => {
  const out: Record<string, string> = {};
  for (const part of s.split(/[\n,]/)) {
    const p = part.trim();
    if (!p) continue;
    const eq = p.indexOf('=');
    if (eq <= 0) {
      ctx.addIssue({ code: 'custom', message: `${JSON.stringify(p)} is not key=value` });
      return z.NEVER;
    }
    out[p.slice(0, eq).trim()] = p.slice(eq + 1).trim();
  }
  return out;
});

/** `all`, empty, or a comma/newline separated list of scenario ids. */
const scenarioList = z.string().transform((s): 'all' | string[] | undefined => {
  const t = s.trim();
  if (t === '') return undefined;
  if (t.toLowerCase() === 'all') return 'all';
  return t
    .split(/[\n,]/)
    .map((x) => x.trim())
    .filter(Boolean);
});

/** Raw input strings, keyed by the input name in action.yml. */
export const rawInputsSchema = z.object({
  mode: z.enum(['run', 'aggregate'], { message: 'must be run or aggregate' }),
  app: optionalText,
  capsule: optionalText,
  'capsule-artifact': optionalText,
  'capsule-run-id': z
    .string()
    .trim()
    .refine((s) => s === '' || /^[0-9]+$/.test(s), { message: 'must be a workflow run id (a number)' })
    .transform((s) => (s === '' ? undefined : Number(s))),
  'capsule-repository': z
    .string()
    .trim()
    .refine((s) => s === '' || /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/.test(s), {
      message: 'must be owner/name',
    })
    .transform((s) => (s === '' ? undefined : s)),
  'capsule-key': optionalText,
  'github-token': z.string(),
  'database-url': z
    .string()
    .trim()
    .transform((s) => s || DEFAULT_DATABASE_URL),
  'database-timeout-seconds': positiveInt('seconds'),
  'use-local-subject': onOff,
  'create-schema': onOff,
  'rewrite-subject': keyValues,
  'load-strategy': z.enum(['jsonb', 'copy'], { message: 'must be jsonb or copy' }),
  'golden-dir': optionalText,
  policy: optionalText,
  scenario: optionalText,
  scenarios: scenarioList,
  'scenarios-file': optionalText,
  shard: shardSchema,
  'check-name': optionalText,
  comment: onOff,
  'fail-on': z.enum(['block', 'warn', 'never'], { message: 'must be block, warn or never' }),
  'trace-artifact': optionalText,
  'judgements-dir': optionalText,
});

export type RawInputs = z.input<typeof rawInputsSchema>;
export const INPUT_NAMES = Object.keys(rawInputsSchema.shape) as (keyof RawInputs)[];

export interface Settings {
  mode: 'run' | 'aggregate';
  app?: string;
  capsule?: string;
  capsuleArtifact?: string;
  capsuleRunId?: number;
  capsuleRepository?: string;
  /**
   * Key of encrypted capsules (a secret: masked in logs, every line — see `secretMaskValues`): an
   * age identity file's text or a passphrase (old REPLAYENC1 capsules: their key or PEM); falls back to env
   * REPLAY_CAPSULE_KEY / REPLAY_CAPSULE_KEY_FILE.
   */
  capsuleKey?: string;
  githubToken: string;
  databaseUrl: string;
  databaseTimeoutSeconds: number;
  useLocalSubject: boolean;
  /** Create missing tables from the capsule's schema section (parsed and checked first). */
  createSchema: boolean;
  rewriteSubject: Record<string, string>;
  loadStrategy: 'jsonb' | 'copy';
  goldenDir?: string;
  policy?: string;
  /** Scenario selection: one id, a list, `all`, or none (the manifest alone). */
  scenarios?: 'all' | string[];
  scenariosFile: string;
  shard?: Shard;
  checkName?: string;
  comment: boolean;
  failOn: 'block' | 'warn' | 'never';
  /** Artifact name for trace + judgement + screenshots; `none` disables the upload. */
  traceArtifact?: string;
  judgementsDir?: string;
}

/** Cross-field rules, each naming the inputs involved. Returns problems (empty when fine). */
export function crossCheck(s: Settings): string[] {
  const problems: string[] = [];
  if (s.mode === 'run') {
    if (!s.app && !s.scenarios)
      problems.push('input "app" is required (the path of the replay manifest), or give "scenarios"');
    if (s.capsule && s.capsuleArtifact)
      problems.push('inputs "capsule" and "capsule-artifact" are exclusive: give a path or an artifact name');
    if ((s.capsuleRunId || s.capsuleRepository) && !s.capsuleArtifact)
      problems.push(
        'inputs "capsule-run-id"/"capsule-repository" need "capsule-artifact" (the artifact name)',
      );
    if (s.capsuleRepository && !s.capsuleRunId)
      problems.push('input "capsule-repository" needs "capsule-run-id" (the run in that repository)');
  } else if (!s.judgementsDir) {
    problems.push(
      'input "judgements-dir" is required with mode: aggregate (a directory of *.judgement.json)',
    );
  }
  if (s.shard && !s.scenarios)
    problems.push('input "shard" needs "scenarios" (e.g. scenarios: all) to split');
  return problems;
}

/**
 * The strings to register with `core.setSecret` for secret values: each value and each non-empty
 * line of it. The runner masks registered strings in log lines, matched one line at a time, so a
 * multi-line secret (a PEM private key) must be registered line by line; @actions/core's setSecret
 * sends the value as one `add-mask` command, and only newer runners split it themselves.
 */
export function secretMaskValues(...values: (string | undefined)[]): string[] {
  const out = new Set<string>();
  for (const v of values) {
    if (!v?.trim()) continue;
    out.add(v.trim());
    for (const line of v.split(/[\r\n]+/)) if (line.trim()) out.add(line.trim());
  }
  return [...out];
}
