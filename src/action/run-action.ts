/**
 * The Action, start to end, for validated settings:
 *
 *   run:        manifest → scenarios (+ shard) → capsule → wait for Postgres → doctor → per scenario
 *               the pipeline → judgement files + job summary + outputs (no network yet) →
 *               artifact upload → check run(s) + sticky comment → fail per fail-on
 *   aggregate:  judgement files of the shards → one check run + one comment (worst decision wins)
 */

import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as core from '@actions/core';
import { errorMessage, InputError } from '../errors.js';
import { loadManifest } from '../manifest/load.js';
import type { Decision } from '../trace/schema.js';
import { plainText } from '../util/markdown-escape.js';
import { type EventContext, readEventContext } from './event-context.js';
import { createOctokit } from './github.js';
import {
  assertSafeTarget,
  capsuleOpenOptions,
  loadScenarioRegistry,
  missingTables,
  type RegistryScenario,
  renderForAction,
  runDoctor,
} from './pipeline.js';
import { type ReplayContext, replayScenarios, slug, workspacePath } from './replay-scenarios.js';
import { aggregateMarkdown, mergeAnnotations, readJudgementsDir, worstDecision } from './report/aggregate.js';
import { conclusionFor } from './report/check-run.js';
import { evidenceLine, judgedLine, setupFailureMarkdown } from './report/links.js';
import { Publisher, type ReportUnit } from './report/publish.js';
import { writeJobSummary } from './report/summary.js';
import { reportOutcomes } from './report-outcomes.js';
import { selectScenarios } from './scenarios.js';
import type { Settings } from './settings.js';
import { waitForPostgres } from './wait-for-postgres.js';

export interface ActionResult {
  decision: Decision;
  failed: boolean;
  failMessage?: string;
}

/** Should the step fail for this decision? */
export function failsStep(decision: Decision, failOn: Settings['failOn']): boolean {
  if (failOn === 'never') return false;
  if (failOn === 'warn') return decision !== 'continue';
  return decision === 'block';
}

function defaultCheckName(
  settings: Settings,
  app: string,
  scenario: string | undefined,
  many: boolean,
): string {
  if (settings.checkName)
    return many && scenario ? `${settings.checkName} / ${scenario}` : settings.checkName;
  return `replay-env / ${app} / ${scenario ?? 'default'}`;
}

export async function runAction(settings: Settings, env: NodeJS.ProcessEnv): Promise<ActionResult> {
  const event = readEventContext(env);
  if (event.eventName === 'workflow_dispatch' && Object.keys(event.dispatchInputs).length)
    core.info(`workflow_dispatch inputs: ${JSON.stringify(event.dispatchInputs)}`);
  const workspace = env.GITHUB_WORKSPACE ?? process.cwd();
  const outRoot = join(env.RUNNER_TEMP ?? tmpdir(), 'replay-env', String(event.runId ?? process.pid));
  await mkdir(outRoot, { recursive: true });
  const publisher = new Publisher(
    settings.githubToken ? createOctokit({ token: settings.githubToken }) : undefined,
    event,
  );
  try {
    return settings.mode === 'aggregate'
      ? await aggregate(settings, event, publisher)
      : await replay(settings, event, env, workspace, outRoot, publisher);
  } catch (err) {
    await reportSetupFailure(settings, event, publisher, err);
    throw err;
  }
}

/** The sticky comment's key: from the inputs alone, so a manifest that fails to load finds it too. */
function commentKey(settings: Settings): string {
  if (settings.mode === 'aggregate') return settings.checkName ?? 'replay-env / regression';
  const shard = settings.shard ? ` / shard ${settings.shard.index}/${settings.shard.total}` : '';
  if (settings.checkName) return `${settings.checkName}${shard}`;
  const selection =
    settings.scenarios === undefined
      ? ''
      : settings.scenarios === 'all'
        ? ' / all scenarios'
        : ` / ${settings.scenarios.join(', ')}`;
  return `replay-env / ${settings.app ?? settings.scenariosFile}${selection}${shard}`;
}

/**
 * Anything that stops the run before a judgement (capsule, key, database, manifest): the check
 * runs started for it — or one named after the inputs — complete as `failure`, and the sticky
 * comment is replaced, so the pull request never keeps showing an older commit's verdict.
 */
async function reportSetupFailure(
  settings: Settings,
  event: EventContext,
  publisher: Publisher,
  err: unknown,
): Promise<void> {
  const message = errorMessage(err);
  const markdown = setupFailureMarkdown(event, message);
  const pending = publisher.pending();
  const names =
    pending.length || publisher.outcome.checkRuns.length
      ? pending
      : [settings.checkName ?? commentKey(settings)];
  await writeJobSummary(markdown).catch(() => false);
  const unit = (checkName: string): ReportUnit => ({
    checkName,
    decision: 'block',
    conclusion: 'failure',
    title: plainText(`Could not run: ${message.split('\n')[0]}`, { singleLine: true, max: 200 }),
    markdown,
    annotations: [],
  });
  for (const name of names) await publisher.checkRun(unit(name));
  if (settings.comment && !publisher.outcome.commentUrl) await publisher.comment(unit(commentKey(settings)));
}

async function replay(
  settings: Settings,
  event: EventContext,
  env: NodeJS.ProcessEnv,
  workspace: string,
  outRoot: string,
  publisher: Publisher,
): Promise<ActionResult> {
  if (!settings.app) throw new InputError('input "app" is required: the path of the replay manifest');
  const manifest = loadManifest(workspacePath({ workspace }, settings.app));
  const app = manifest.manifest.appId;
  const scenariosFile = workspacePath({ workspace }, settings.scenariosFile);
  const scenarios = selectedScenarios(settings, scenariosFile);
  if (scenarios.length === 0) {
    core.notice('No scenario falls into this shard; nothing to replay.');
    core.setOutput('decision', 'continue');
    return { decision: 'continue', failed: false };
  }
  const many = scenarios.length > 1;
  const checkNameOf = (sc: RegistryScenario | undefined) => defaultCheckName(settings, app, sc?.id, many);
  await publisher.start(scenarios.map(checkNameOf));
  // Encrypted capsules: the key is parsed once, up front (a malformed key is bad input).
  const capsuleOpen = capsuleOpenOptions(settings.capsuleKey, env);
  await prepareDatabase(settings, manifest, env);
  const ctx: ReplayContext = {
    settings,
    event,
    env,
    workspace,
    outRoot,
    manifest,
    app,
    many,
    scenariosFile,
    capsuleOpen,
    capsules: new Map(),
  };
  const results = await replayScenarios(ctx, scenarios, checkNameOf);
  const artifactName =
    settings.traceArtifact === 'none'
      ? undefined
      : evidenceArtifactName(settings, app, many ? undefined : scenarios[0]?.id);
  const decision = await reportOutcomes(ctx, publisher, results, artifactName, commentKey(settings));
  return finish(settings, decision, publisher);
}

/** None (the manifest alone: `[undefined]`) or a selection from the registry, maybe one shard. */
function selectedScenarios(settings: Settings, scenariosFile: string): (RegistryScenario | undefined)[] {
  if (!settings.scenarios) return [undefined];
  const registry = loadScenarioRegistry(scenariosFile);
  const scenarios = selectScenarios(registry, settings.scenarios, settings.shard, settings.scenariosFile);
  core.info(
    `Scenarios${settings.shard ? ` (shard ${settings.shard.index}/${settings.shard.total})` : ''}: ${
      scenarios.map((s) => s.id).join(', ') || 'none'
    }`,
  );
  return scenarios;
}

/** Postgres: a safe target, reachable, and the doctor's checks against it. */
async function prepareDatabase(
  settings: Settings,
  manifest: ReturnType<typeof loadManifest>,
  env: NodeJS.ProcessEnv,
): Promise<void> {
  assertSafeTarget(settings.databaseUrl, env);
  const ready = await core.group('Waiting for Postgres', () =>
    waitForPostgres(settings.databaseUrl, {
      timeoutSeconds: settings.databaseTimeoutSeconds,
      onRetry: (n, reason, ms) => core.info(`attempt ${n}: ${reason}; retrying in ${ms} ms`),
    }),
  );
  core.info(`Postgres ${ready.version} is ready`);
  const schemaExists = (await missingTables(settings.databaseUrl, manifest)).length === 0;
  await core.group('Doctor', () =>
    runDoctor(settings.databaseUrl, manifest, schemaExists, (l) => core.info(l)),
  );
}

function evidenceArtifactName(settings: Settings, app: string, scenario: string | undefined): string {
  return (
    settings.traceArtifact ??
    `replay-env-${slug(app)}${settings.shard ? `-shard-${settings.shard.index}-of-${settings.shard.total}` : ''}${
      scenario ? `-${slug(scenario)}` : ''
    }`
  );
}

function finish(settings: Settings, decision: Decision, publisher: Publisher): ActionResult {
  const first = publisher.outcome.checkRuns[0];
  core.setOutput('check-run-id', first ? String(first.id) : '');
  core.setOutput('comment-url', publisher.outcome.commentUrl ?? '');
  if (failsStep(decision, settings.failOn)) {
    return {
      decision,
      failed: true,
      failMessage: `replay-env decision: ${decision} (fail-on: ${settings.failOn}); see the job summary for the reasons`,
    };
  }
  return { decision, failed: false };
}

async function aggregate(
  settings: Settings,
  event: EventContext,
  publisher: Publisher,
): Promise<ActionResult> {
  const checkName = settings.checkName ?? 'replay-env / regression';
  await publisher.start([checkName]);
  const files = await readJudgementsDir(resolve(settings.judgementsDir!));
  const footer = judgedLine(event);
  const parts = files.map((f) => ({
    judgement: f.judgement,
    markdown: renderForAction(f.judgement, {
      evidenceLine: evidenceLine(event, undefined).replace(/ · the trace.*$/, ''),
    }),
  }));
  const decision = worstDecision(parts.map((p) => p.judgement.decision));
  const markdown = `${aggregateMarkdown(checkName, parts)}\n\n${footer}\n`;
  await writeJobSummary(markdown);
  core.setOutput('decision', decision);
  core.setOutput('judgement-path', files.map((f) => f.path).join('\n'));
  const blocking = parts.filter((p) => p.judgement.decision === decision);
  const unit: ReportUnit = {
    checkName,
    decision,
    conclusion: conclusionFor(decision, settings.failOn),
    title: plainText(
      `${parts.length} scenario(s): ${decision}${
        blocking[0] && decision !== 'continue'
          ? ` (${blocking.map((b) => b.judgement.scenario ?? b.judgement.app).join(', ')})`
          : ''
      }`,
      { singleLine: true, max: 200 },
    ),
    markdown,
    annotations: mergeAnnotations(parts),
  };
  await publisher.checkRun(unit);
  if (settings.comment) await publisher.comment(unit);
  return finish(settings, decision, publisher);
}
