/**
 * Reading the Action's inputs once into a validated Settings object. Bad input becomes ONE
 * InputError naming every bad input, which main.ts turns into core.setFailed.
 */
import { InputError } from '../errors.js';
import {
  crossCheck,
  DEFAULT_SCENARIOS_FILE,
  INPUT_NAMES,
  type RawInputs,
  rawInputsSchema,
  type Settings,
} from './settings.js';

/** Defaults for inputs the runner did not pass (action.yml defaults apply on GitHub). */
const DEFAULTS: Partial<Record<keyof RawInputs, string>> = {
  mode: 'run',
  'database-timeout-seconds': '60',
  'use-local-subject': 'false',
  'create-schema': 'false',
  'load-strategy': 'copy',
  comment: 'on',
  'fail-on': 'block',
};

export type GetInput = (name: string) => string;

export function readSettings(getInput: GetInput): Settings {
  const raw: Record<string, string> = {};
  for (const name of INPUT_NAMES) {
    const value = getInput(name);
    raw[name] = value === '' ? (DEFAULTS[name] ?? '') : value;
  }
  const parsed = rawInputsSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => {
      const name = String(i.path[0]);
      return `input "${name}" ${i.message.replace(/^Invalid input: /, '')} (got ${JSON.stringify(raw[name])})`;
    });
    throw new InputError(lines.join('; '));
  }
  const r = parsed.data;
  // `scenario` (one id) is a shorthand for `scenarios: <id>`.
  const scenarios = r.scenarios ?? (r.scenario ? [r.scenario] : undefined);
  const settings: Settings = {
    mode: r.mode,
    app: r.app,
    capsule: r.capsule,
    capsuleArtifact: r['capsule-artifact'],
    capsuleRunId: r['capsule-run-id'],
    capsuleRepository: r['capsule-repository'],
    capsuleKey: r['capsule-key'],
    githubToken: r['github-token'],
    databaseUrl: r['database-url'],
    databaseTimeoutSeconds: r['database-timeout-seconds'],
    useLocalSubject: r['use-local-subject'],
    createSchema: r['create-schema'],
    rewriteSubject: r['rewrite-subject'],
    loadStrategy: r['load-strategy'],
    goldenDir: r['golden-dir'],
    policy: r.policy,
    scenarios,
    scenariosFile: r['scenarios-file'] ?? DEFAULT_SCENARIOS_FILE,
    shard: r.shard,
    checkName: r['check-name'],
    comment: r.comment,
    failOn: r['fail-on'],
    traceArtifact: r['trace-artifact'],
    judgementsDir: r['judgements-dir'],
  };
  if (r.scenario && r.scenarios)
    throw new InputError('inputs "scenario" and "scenarios" are exclusive: give one id or a list');
  const problems = crossCheck(settings);
  if (problems.length) throw new InputError(problems.join('; '));
  return settings;
}
