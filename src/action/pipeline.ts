/**
 * Where the Action runs the product's stages — the same modules as the CLI, no second
 * implementation: (doctor, schema plan) → materialize + commands + probes (runReplay) → judge →
 * gate, one scenario at a time (runScenario). The rest of src/action is front-door work: reading
 * the inputs and the manifest (run-action.ts), restoring the capsule (restore-capsule.ts), waiting
 * for Postgres (wait-for-postgres.ts), and GitHub plumbing (report/).
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { capsuleKeyFromEnv, capsuleOpenOptionsFor, parseCapsuleKey } from '../capsule/encryption.js';
import type { OpenOptions } from '../capsule/open.js';
import { scanCapsule } from '../capsule/reader.js';
import { FailureError, InputError } from '../errors.js';
import { judgeTrace } from '../gate/judge-trace.js';
import { defaultPolicyPath, loadPolicy } from '../gate/policy.js';
import { findGolden, goldenPathFor, readGolden } from '../judge/golden.js';
import { findScenario, loadJudgesConfig, loadScenarios, type Scenario } from '../judge/loop.js';
import { GITHUB_CHECK_SUMMARY_LIMIT, renderJudgementMarkdown } from '../judge/markdown.js';
import { JUDGEMENT_SCHEMA_VERSION, type Judgement, judgementSchema } from '../judge/schema.js';
import type { LoadedManifest } from '../manifest/load.js';
import { withClient } from '../postgres/connect.js';
import { liveChecks } from '../postgres/doctor/checks.js';
import { offlineChecks, targetSafetyCheck } from '../postgres/doctor/report.js';
import type { PrepareTarget } from '../postgres/materialize/materialize-capsule.js';
import { createSchemaHook } from '../postgres/materialize/zero-setup.js';
import { displayUrl, targetRefusal } from '../postgres/target-safety.js';
import { runReplay } from '../run/replay.js';
import type { Trace } from '../trace/schema.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { registryPath } from './scenarios.js';

export interface ScenarioRun {
  manifest: LoadedManifest;
  /** The scenario from the registry (undefined: the manifest alone). */
  scenario?: Scenario;
  capsulePath?: string;
  capsuleOpen?: OpenOptions;
  databaseUrl: string;
  rewrite?: Record<string, string>;
  loadStrategy: 'jsonb' | 'copy';
  goldenDir?: string;
  policy?: string;
  scenariosFile?: string;
  /** Directory for this scenario's trace, judgement and screenshots. */
  outDir: string;
  /** How the app's tables come to exist in the (usually empty) service database. */
  schema?: SchemaPlan;
  workspace: string;
  /** The app's environment (app-env.ts: without the Action's inputs and the runner's tokens). */
  env: Record<string, string | undefined>;
  /** Secret values to mask in the trace besides the manifest's (the capsule key, the token). */
  maskValues?: string[];
  log: (line: string) => void;
}

export interface ScenarioOutcome {
  judgement: Judgement;
  markdown: string;
  tracePath: string;
  judgementPath: string;
  /** trace, judgement and evidence files (screenshots) for the artifact. */
  files: string[];
}

/** The same target rule as the CLI (postgres/target-safety.ts), without --allow-remote. */
export function assertSafeTarget(url: string, env: Record<string, string | undefined> = {}): void {
  const refusal = targetRefusal(url, env, false);
  if (!refusal) return;
  // Bad input (a refused target), checked before any connection.
  throw new InputError(
    // The CLI's reason names its --allow-remote flag; the Action has no such input (by design).
    `input "database-url" ${refusal.shown} is refused as a replay target: ${refusal.verdict.reason.replace(/;? ?pass --allow-remote[^;]*/, '')}. ` +
      "The Action replays into a throwaway database — use the job's Postgres service container (postgres://postgres:postgres@localhost:5432/postgres).",
  );
}

export async function runScenario(run: ScenarioRun): Promise<ScenarioOutcome> {
  await mkdir(run.outDir, { recursive: true });
  // <name>.judgement.json: aggregate mode collects these from the shards' artifacts.
  const name = basename(run.outDir);
  const tracePath = join(run.outDir, `${name}.trace.json`);
  const judgementPath = join(run.outDir, `${name}.judgement.json`);
  const { trace } = await runReplay({
    manifest: run.manifest.manifest,
    manifestPath: run.manifest.path,
    capsulePath: run.capsulePath,
    capsuleOpen: run.capsuleOpen,
    databaseUrl: run.databaseUrl,
    rewrite: run.rewrite,
    loadStrategy: run.loadStrategy,
    artifactsDir: join(run.outDir, 'artifacts'),
    traceOut: tracePath,
    ...(run.schema?.prepareTarget ? { prepareTarget: run.schema.prepareTarget } : {}),
    runSetup: run.schema?.source === 'setup',
    env: run.env,
    ...(run.maskValues?.length ? { maskValues: run.maskValues } : {}),
    cwd: run.workspace,
    scenario: run.scenario?.id,
    onEvent: (p) => {
      if (p.kind === 'materialize-done') run.log(`materialize: ${p.record.status}`);
      else if (p.kind === 'step-done')
        run.log(`${p.event.kind} ${p.event.name}: ${p.event.ok ? 'ok' : 'FAILED'}`);
    },
  });
  const judgement = judgeForAction({
    trace,
    tracePath,
    manifest: run.manifest,
    scenarioId: run.scenario?.id,
    scenariosFile: run.scenariosFile,
    goldenDir: run.goldenDir,
    policy: run.policy,
    workspace: run.workspace,
  });
  writeFileAtomic(judgementPath, `${JSON.stringify(judgement, null, 2)}\n`, 'judgement');
  const markdown = renderForAction(judgement);
  // Artifact paths in the trace are relative to the trace file.
  const evidence = trace.artifacts.map((a) => join(run.outDir, a.path));
  return { judgement, markdown, tracePath, judgementPath, files: [tracePath, judgementPath, ...evidence] };
}

/** A block judgement for a scenario that could not run at all (its reason is the error). */
export async function errorOutcome(input: {
  app: string;
  scenarioId?: string;
  message: string;
  outDir: string;
  policyPath?: string;
}): Promise<ScenarioOutcome> {
  await mkdir(input.outDir, { recursive: true });
  const judgementPath = join(input.outDir, `${basename(input.outDir)}.judgement.json`);
  const judgement = judgementSchema.parse({
    schemaVersion: JUDGEMENT_SCHEMA_VERSION,
    kind: 'replay-env.judgement',
    app: input.app,
    ...(input.scenarioId ? { scenario: input.scenarioId } : {}),
    createdAt: new Date().toISOString(),
    decision: 'block',
    reasons: [`the replay could not run: ${input.message.split('\n')[0]}`],
    humanReview: false,
    judges: [],
    facts: { replay_error: true },
    trace: {},
    policy: { path: input.policyPath ?? defaultPolicyPath() },
  });
  writeFileAtomic(judgementPath, `${JSON.stringify(judgement, null, 2)}\n`, 'judgement');
  return {
    judgement,
    markdown: renderForAction(judgement),
    tracePath: '',
    judgementPath,
    files: [judgementPath],
  };
}

// ---- judge, scenarios registry, doctor, capsule decryption: the stage modules ----

export type RegistryScenario = Scenario;

export function loadScenarioRegistry(path: string): Scenario[] {
  return loadScenarios(path);
}

interface JudgeForAction {
  trace: Trace;
  tracePath: string;
  manifest: LoadedManifest;
  scenarioId?: string;
  scenariosFile?: string;
  goldenDir?: string;
  policy?: string;
  workspace: string;
}

function judgeForAction(input: JudgeForAction): Judgement {
  const scenario =
    input.scenarioId && input.scenariosFile
      ? findScenario(loadScenarios(input.scenariosFile), input.scenarioId, input.scenariosFile)
      : undefined;
  // A registered scenario's golden that is not blessed yet (the bug not fixed yet) is a missing
  // golden (fact golden_missing), as for a golden dir — not an error that hides the judgement.
  const scenarioGolden =
    scenario?.golden && input.scenariosFile
      ? registryPath(input.workspace, input.scenariosFile, scenario.id, 'golden', scenario.golden)
      : undefined;
  const golden = scenarioGolden
    ? existsSync(scenarioGolden)
      ? readGolden(scenarioGolden)
      : null
    : input.goldenDir
      ? findGolden(input.goldenDir, input.scenarioId)
      : null;
  const policy = loadPolicy(input.policy ?? defaultPolicyPath());
  // judges.yaml next to the scenarios registry when the repository has its own loop folder.
  const judgesPath = input.scenariosFile ? join(dirname(input.scenariosFile), 'judges.yaml') : undefined;
  const judges = judgesPath && existsSync(judgesPath) ? loadJudgesConfig(judgesPath) : loadJudgesConfig();
  return judgeTrace({
    trace: input.trace,
    tracePath: input.tracePath,
    golden,
    goldenPath:
      scenarioGolden ?? (input.goldenDir ? goldenPathFor(input.goldenDir, input.scenarioId) : undefined),
    policy,
    manifest: input.manifest.manifest,
    manifestFile: { path: input.manifest.path, text: input.manifest.text },
    scenario,
    judges,
    // Differences become annotations on the golden file when it is inside the repository.
    repoRoot: input.workspace,
  });
}

export function renderForAction(
  judgement: Judgement,
  extra: { evidenceLine?: string; footer?: string } = {},
): string {
  return renderJudgementMarkdown(judgement, { maxChars: GITHUB_CHECK_SUMMARY_LIMIT - 2_000, ...extra });
}

export interface SchemaPlan {
  source: 'existing' | 'setup' | 'capsule';
  prepareTarget?: PrepareTarget;
}

/** Declared tables missing from the database (to_regclass, so schema-qualified names work). */
export async function missingTables(url: string, manifest: LoadedManifest): Promise<string[]> {
  const names = manifest.manifest.postgres.tables.map((t) => t.name);
  return withClient(url, { role: 'replay database' }, async (c) => {
    const r = await c.query<{ name: string }>(
      'select name from unnest($1::text[]) as t(name) where to_regclass(name) is null',
      [names],
    );
    return r.rows.map((row) => row.name);
  });
}

/**
 * A service container starts empty. The same rule as the CLI's zero-setup replay: tables that
 * exist are used as they are; otherwise the manifest's `setup` commands create them, or else — only
 * with the input `create-schema: true` — the capsule's schema section (recorded by the exporter).
 */
export async function planSchema(
  url: string,
  manifest: LoadedManifest,
  capsulePath: string | undefined,
  capsuleOpen: OpenOptions,
  createSchema = false,
): Promise<SchemaPlan> {
  const missing = await missingTables(url, manifest);
  if (missing.length === 0 || !capsulePath) return { source: 'existing' };
  if ((manifest.manifest.setup ?? []).length > 0) return { source: 'setup' };
  const scan = await scanCapsule(capsulePath, capsuleOpen);
  if (scan.header.schema !== undefined && createSchema)
    return { source: 'capsule', prepareTarget: createSchemaHook({ capsulePath }) };
  if (scan.header.schema !== undefined)
    throw new InputError(
      `the replay database ${displayUrl(url)} lacks table(s) ${missing.join(', ')} and the manifest ${manifest.path} has no setup commands: set the Action input "create-schema: true" to create them from the capsule's schema section (its statements are parsed and checked first), or add the app's migrations as "setup" commands`,
    );
  throw new FailureError(
    `the replay database ${displayUrl(url)} lacks table(s) ${missing.join(', ')}, the manifest ${manifest.path} has no setup commands and the capsule carries no schema section: add the app's migrations as "setup" commands in the manifest, run them in a workflow step before the Action, or export the capsule again with this replay-env (it records the schema)`,
  );
}

/**
 * The doctor's checks; any failing check stops the Action before loading. The catalog checks
 * (declared tables and columns exist) need the schema, so they run only when it already exists.
 */
export async function runDoctor(
  url: string,
  manifest: LoadedManifest,
  schemaExists: boolean,
  log: (line: string) => void,
): Promise<void> {
  const checks = [...offlineChecks(manifest, manifest.path), targetSafetyCheck(url, false)];
  if (schemaExists) checks.push(...(await liveChecks(url, manifest)));
  else log('the app tables do not exist yet: catalog checks skipped (the replay creates the schema first)');
  for (const c of checks) log(`${c.status.padEnd(4)} ${c.id}: ${c.message}`);
  const failed = checks.filter((c) => c.status === 'fail');
  if (failed.length)
    throw new FailureError(
      `doctor found ${failed.length} problem(s) with the replay database ${displayUrl(url)}: ${failed
        .map((c) => `${c.id}: ${c.message}`)
        .join('; ')}`,
    );
}

/**
 * Encrypted capsules: the key comes from input "capsule-key", else REPLAY_CAPSULE_KEY in the
 * step's env (capsule/encryption.ts). No key: unencrypted capsules read as before, and an
 * encrypted one fails naming REPLAY_CAPSULE_KEY.
 */
export function capsuleOpenOptions(
  capsuleKey: string | undefined,
  env: Record<string, string | undefined>,
): OpenOptions {
  if (capsuleKey) return capsuleOpenOptionsFor(parseCapsuleKey(capsuleKey, 'input "capsule-key"'));
  return capsuleOpenOptionsFor(capsuleKeyFromEnv(env));
}
