/**
 * The Action's replay of its scenarios, one after the other, against the one database: each
 * scenario's capsule (the input's, else the scenario's; restored once per source), its subject
 * rewrite and schema plan, then the pipeline (pipeline.ts runScenario). With several scenarios, one
 * that cannot run becomes a block result of its own instead of hiding the others.
 */
import { isAbsolute, join, resolve } from 'node:path';
import * as core from '@actions/core';
import type { OpenOptions } from '../capsule/open.js';
import { errorMessage } from '../errors.js';
import type { LoadedManifest } from '../manifest/load.js';
import { type RewriteOptionNames, requestedRewrite } from '../manifest/subject-rewrite.js';
import { appEnvironment } from './app-env.js';
import type { EventContext } from './event-context.js';
import {
  errorOutcome,
  planSchema,
  type RegistryScenario,
  runScenario,
  type ScenarioOutcome,
} from './pipeline.js';
import { restoreCapsule } from './restore-capsule.js';
import { registryPath } from './scenarios.js';
import type { Settings } from './settings.js';

/** What every scenario of one Action run shares. */
export interface ReplayContext {
  settings: Settings;
  event: EventContext;
  env: NodeJS.ProcessEnv;
  workspace: string;
  /** This run's output directory (one subdirectory per scenario). */
  outRoot: string;
  manifest: LoadedManifest;
  app: string;
  /** More than one scenario: each names its own capsule, and each gets its own check run. */
  many: boolean;
  /** The scenario registry, absolute. */
  scenariosFile: string;
  capsuleOpen: OpenOptions;
  /** Restored capsules by source, so scenarios sharing one restore it once. */
  capsules: Map<string, string>;
}

export interface ScenarioResult {
  outcome: ScenarioOutcome;
  checkName: string;
}

const ACTION_REWRITE_INPUTS: RewriteOptionNames = {
  useLocalSubject: 'input "use-local-subject"',
  rewriteSubject: 'input "rewrite-subject"',
};

/** A path input, relative to the workspace. */
export function workspacePath(ctx: Pick<ReplayContext, 'workspace'>, p: string): string {
  return isAbsolute(p) ? p : resolve(ctx.workspace, p);
}

export function slug(s: string): string {
  return (
    s
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'default'
  );
}

export async function replayScenarios(
  ctx: ReplayContext,
  scenarios: (RegistryScenario | undefined)[],
  checkNameOf: (scenario: RegistryScenario | undefined) => string,
): Promise<ScenarioResult[]> {
  const results: ScenarioResult[] = [];
  for (const scenario of scenarios) {
    const checkName = checkNameOf(scenario);
    let outcome: ScenarioOutcome;
    try {
      outcome = await replayScenario(ctx, scenario, checkName);
    } catch (err) {
      // One scenario that cannot run (an expired artifact, a bad capsule) must not hide the
      // others: with several scenarios it becomes a block result of its own.
      if (!ctx.many) throw err;
      core.error(`${checkName}: ${errorMessage(err)}`);
      outcome = await errorOutcome({
        app: ctx.app,
        scenarioId: scenario?.id,
        message: errorMessage(err),
        outDir: scenarioOutDir(ctx, scenario),
        policyPath: ctx.settings.policy ? workspacePath(ctx, ctx.settings.policy) : undefined,
      });
    }
    core.info(`${checkName}: ${outcome.judgement.decision}`);
    results.push({ outcome, checkName });
  }
  return results;
}

function scenarioOutDir(ctx: ReplayContext, scenario: RegistryScenario | undefined): string {
  return join(ctx.outRoot, slug(scenario?.id ?? ctx.app));
}

async function replayScenario(
  ctx: ReplayContext,
  scenario: RegistryScenario | undefined,
  checkName: string,
): Promise<ScenarioOutcome> {
  const { settings, manifest } = ctx;
  const capsulePath = await scenarioCapsule(ctx, scenario);
  const rewrite = subjectRewriteFor(settings, manifest, scenario);
  const schema = await planSchema(
    settings.databaseUrl,
    manifest,
    capsulePath,
    ctx.capsuleOpen,
    settings.createSchema,
  );
  if (schema.source !== 'existing')
    core.info(
      `The app's tables are created from the ${schema.source === 'setup' ? "manifest's setup commands" : "capsule's schema section"}`,
    );
  const abs = (p: string | undefined) => (p ? workspacePath(ctx, p) : undefined);
  return core.group(`Replay ${checkName}`, () =>
    runScenario({
      manifest,
      scenario,
      capsulePath,
      capsuleOpen: ctx.capsuleOpen,
      schema,
      databaseUrl: settings.databaseUrl,
      rewrite,
      loadStrategy: settings.loadStrategy,
      goldenDir: abs(settings.goldenDir),
      policy: abs(settings.policy),
      scenariosFile: settings.scenarios ? ctx.scenariosFile : undefined,
      outDir: scenarioOutDir(ctx, scenario),
      workspace: ctx.workspace,
      env: appEnvironment(ctx.env),
      // Masked in the trace should the app come across them some other way.
      maskValues: [settings.capsuleKey, settings.githubToken].filter((v): v is string => Boolean(v)),
      log: (l) => core.info(l),
    }),
  );
}

/** The scenario's capsule file, restored once per source; undefined when there is none. */
async function scenarioCapsule(
  ctx: ReplayContext,
  scenario: RegistryScenario | undefined,
): Promise<string | undefined> {
  const { settings, event } = ctx;
  // The input capsule overrides a single scenario's; with several, each scenario names its own.
  const fromInput = !ctx.many && (settings.capsule || settings.capsuleArtifact);
  const source = fromInput
    ? { path: settings.capsule, artifact: settings.capsuleArtifact }
    : {
        path:
          scenario && 'path' in scenario.capsule
            ? registryCapsule(ctx, scenario.id, scenario.capsule.path)
            : undefined,
        artifact: scenario && 'artifact' in scenario.capsule ? scenario.capsule.artifact : undefined,
      };
  if (!source.path && !source.artifact) return undefined;
  const key = JSON.stringify(source);
  const cached = ctx.capsules.get(key);
  if (cached) return cached;
  const restored = await restoreCapsule({
    capsule: source.path,
    artifact: source.artifact,
    // workflow_run: artifacts come from the run that triggered us unless told otherwise.
    runId: settings.capsuleRunId ?? (source.artifact ? event.triggeringRunId : undefined),
    repository: settings.capsuleRepository,
    token: settings.githubToken,
    currentRepository: { owner: event.owner, repo: event.repo },
    workspace: ctx.workspace,
    downloadDir: join(ctx.outRoot, 'capsules'),
  });
  core.info(`Capsule: ${restored.source} → ${restored.path} (${restored.encoding})`);
  ctx.capsules.set(key, restored.path);
  return restored.path;
}

/** use-local-subject / rewrite-subject (inputs win), else the scenario's subjectRewrite. */
function subjectRewriteFor(
  settings: Settings,
  manifest: LoadedManifest,
  scenario: RegistryScenario | undefined,
): Record<string, string> | undefined {
  const requested = requestedRewrite(
    manifest.manifest,
    manifest.path,
    { useLocalSubject: settings.useLocalSubject, rewriteSubject: Object.entries(settings.rewriteSubject) },
    ACTION_REWRITE_INPUTS,
  );
  return requested?.values ?? scenario?.subjectRewrite;
}

/**
 * A registry's capsule path, refused when it leaves the workspace, else returned as written (the
 * restore resolves it against the workspace, and its messages quote the registry's own text).
 */
function registryCapsule(ctx: ReplayContext, scenarioId: string, path: string): string {
  registryPath(ctx.workspace, ctx.scenariosFile, scenarioId, 'capsule.path', path);
  return path;
}
