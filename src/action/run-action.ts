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
import { isAbsolute, join, resolve } from 'node:path';
import * as core from '@actions/core';
import { errorMessage, InputError } from '../errors.js';
import type { Judgement } from '../judge/schema.js';
import { loadManifest } from '../manifest/load.js';
import { type RewriteOptionNames, requestedRewrite } from '../manifest/subject-rewrite.js';
import type { Decision } from '../trace/schema.js';
import { plainText } from '../util/markdown-escape.js';
import { appEnvironment } from './app-env.js';
import { type EventContext, readEventContext } from './event-context.js';
import { createOctokit } from './github.js';
import {
  assertSafeTarget,
  capsuleOpenOptions,
  errorOutcome,
  loadScenarioRegistry,
  missingTables,
  planSchema,
  type RegistryScenario,
  renderForAction,
  runDoctor,
  runScenario,
  type ScenarioOutcome,
} from './pipeline.js';
import { aggregateMarkdown, mergeAnnotations, readJudgementsDir, worstDecision } from './report/aggregate.js';
import { checkRunTitle, conclusionFor } from './report/check-run.js';
import { evidenceLine, judgedLine, setupFailureMarkdown, type UploadedArtifact } from './report/links.js';
import { Publisher, type ReportUnit } from './report/publish.js';
import { writeJobSummary } from './report/summary.js';
import { uploadEvidence } from './report/upload.js';
import { restoreCapsule } from './restore-capsule.js';
import { selectScenarios } from './scenarios.js';
import type { Settings } from './settings.js';
import { waitForPostgres } from './wait-for-postgres.js';

const ACTION_REWRITE_INPUTS: RewriteOptionNames = {
  useLocalSubject: 'input "use-local-subject"',
  rewriteSubject: 'input "rewrite-subject"',
};

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

export function slug(s: string): string {
  return (
    s
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'default'
  );
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
export function commentKey(settings: Settings): string {
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
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(workspace, p));
  if (!settings.app) throw new InputError('input "app" is required: the path of the replay manifest');
  const manifest = loadManifest(abs(settings.app));
  const app = manifest.manifest.appId;

  // Scenarios: none (the manifest alone) or a selection from the registry, maybe one shard.
  let scenarios: (RegistryScenario | undefined)[] = [undefined];
  const scenariosFile = abs(settings.scenariosFile);
  if (settings.scenarios) {
    const registry = loadScenarioRegistry(scenariosFile);
    scenarios = selectScenarios(registry, settings.scenarios, settings.shard, settings.scenariosFile);
    core.info(
      `Scenarios${settings.shard ? ` (shard ${settings.shard.index}/${settings.shard.total})` : ''}: ${
        scenarios.map((s) => s!.id).join(', ') || 'none'
      }`,
    );
    if (scenarios.length === 0) {
      core.notice('No scenario falls into this shard; nothing to replay.');
      core.setOutput('decision', 'continue');
      return { decision: 'continue', failed: false };
    }
  }
  const many = scenarios.length > 1;
  await publisher.start(scenarios.map((sc) => defaultCheckName(settings, app, sc?.id, many)));

  // Encrypted capsules: the key is parsed once, up front (a malformed key is bad input).
  const capsuleOpen = capsuleOpenOptions(settings.capsuleKey, env);

  // Postgres: safe target, reachable, doctor checks against it.
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

  const capsuleCache = new Map<string, string>();
  const outcomes: { outcome: ScenarioOutcome; checkName: string }[] = [];
  const replayOne = async (
    scenario: RegistryScenario | undefined,
    checkName: string,
  ): Promise<ScenarioOutcome> => {
    // The input capsule overrides a single scenario's; with several, each scenario names its own.
    const fromInput = !many && (settings.capsule || settings.capsuleArtifact);
    const source = fromInput
      ? { path: settings.capsule, artifact: settings.capsuleArtifact }
      : {
          path: scenario && 'path' in scenario.capsule ? scenario.capsule.path : undefined,
          artifact: scenario && 'artifact' in scenario.capsule ? scenario.capsule.artifact : undefined,
        };
    let capsulePath: string | undefined;
    if (source.path || source.artifact) {
      const key = JSON.stringify(source);
      capsulePath = capsuleCache.get(key);
      if (!capsulePath) {
        const restored = await restoreCapsule({
          capsule: source.path,
          artifact: source.artifact,
          // workflow_run: artifacts come from the run that triggered us unless told otherwise.
          runId: settings.capsuleRunId ?? (source.artifact ? event.triggeringRunId : undefined),
          repository: settings.capsuleRepository,
          token: settings.githubToken,
          currentRepository: { owner: event.owner, repo: event.repo },
          workspace,
          downloadDir: join(outRoot, 'capsules'),
        });
        core.info(`Capsule: ${restored.source} → ${restored.path} (${restored.encoding})`);
        capsulePath = restored.path;
        capsuleCache.set(key, capsulePath);
      }
    }
    const rewrite = subjectRewriteFor(settings, manifest, scenario);
    const schema = await planSchema(
      settings.databaseUrl,
      manifest,
      capsulePath,
      capsuleOpen,
      settings.createSchema,
    );
    if (schema.source !== 'existing')
      core.info(
        `The app's tables are created from the ${schema.source === 'setup' ? "manifest's setup commands" : "capsule's schema section"}`,
      );
    return core.group(`Replay ${checkName}`, () =>
      runScenario({
        manifest,
        scenario,
        capsulePath,
        capsuleOpen,
        schema,
        databaseUrl: settings.databaseUrl,
        rewrite,
        loadStrategy: settings.loadStrategy,
        goldenDir: settings.goldenDir ? abs(settings.goldenDir) : undefined,
        policy: settings.policy ? abs(settings.policy) : undefined,
        scenariosFile: settings.scenarios ? scenariosFile : undefined,
        outDir: join(outRoot, slug(scenario?.id ?? app)),
        workspace,
        env: appEnvironment(env),
        // Masked in the trace should the app come across them some other way.
        maskValues: [settings.capsuleKey, settings.githubToken].filter((v): v is string => Boolean(v)),
        log: (l) => core.info(l),
      }),
    );
  };
  for (const scenario of scenarios) {
    const checkName = defaultCheckName(settings, app, scenario?.id, many);
    let outcome: ScenarioOutcome;
    try {
      outcome = await replayOne(scenario, checkName);
    } catch (err) {
      // One scenario that cannot run (an expired artifact, a bad capsule) must not hide the
      // others: with several scenarios it becomes a block result of its own.
      if (!many) throw err;
      core.error(`${checkName}: ${errorMessage(err)}`);
      outcome = await errorOutcome({
        app,
        scenarioId: scenario?.id,
        message: errorMessage(err),
        outDir: join(outRoot, slug(scenario?.id ?? app)),
        policyPath: settings.policy ? abs(settings.policy) : undefined,
      });
    }
    core.info(`${checkName}: ${outcome.judgement.decision}`);
    outcomes.push({ outcome, checkName });
  }

  // Before any network call: judgement files are on disk; now the summary and the outputs.
  const decision = worstDecision(outcomes.map((o) => o.outcome.judgement.decision));
  const artifactName =
    settings.traceArtifact === 'none'
      ? undefined
      : evidenceArtifactName(settings, app, many ? undefined : scenarios[0]?.id);
  const render = (o: ScenarioOutcome, artifact: UploadedArtifact | undefined) =>
    renderForAction(o.judgement, { evidenceLine: evidenceLine(event, artifact), footer: judgedLine(event) });
  const parts = outcomes.map((o) => ({
    judgement: o.outcome.judgement,
    markdown: render(o.outcome, artifactName ? { name: artifactName } : undefined),
    checkName: o.checkName,
  }));
  const summaryTitle = many ? `replay-env / ${app} (${outcomes.length} scenarios)` : outcomes[0]!.checkName;
  await writeJobSummary(many ? aggregateMarkdown(summaryTitle, parts) : parts[0]!.markdown);
  core.setOutput('decision', decision);
  core.setOutput(
    'trace-path',
    outcomes
      .map((o) => o.outcome.tracePath)
      .filter(Boolean)
      .join('\n'),
  );
  core.setOutput('judgement-path', outcomes.map((o) => o.outcome.judgementPath).join('\n'));

  // Network: artifact, check runs, comment.
  let artifact: UploadedArtifact | undefined;
  if (artifactName) {
    const up = await uploadEvidence(
      artifactName,
      outcomes.flatMap((o) => o.outcome.files),
      outRoot,
    );
    artifact = { name: artifactName, ...(up.id !== undefined ? { id: up.id } : {}) };
  }
  for (const [i, o] of outcomes.entries()) {
    parts[i]!.markdown = render(o.outcome, artifact);
    const unit = unitFor(o.checkName, o.outcome.judgement, parts[i]!.markdown, settings.failOn);
    const res = await publisher.checkRun(unit);
    if (res?.url) Object.assign(parts[i]!, { checkRunUrl: res.url });
  }
  if (settings.comment) {
    const key = commentKey(settings);
    const commentUnit = many
      ? {
          ...unitFor(
            key,
            outcomes[0]!.outcome.judgement,
            aggregateMarkdown(summaryTitle, parts),
            settings.failOn,
          ),
          decision,
        }
      : { ...unitFor(key, outcomes[0]!.outcome.judgement, parts[0]!.markdown, settings.failOn) };
    await publisher.comment(commentUnit);
  }
  return finish(settings, decision, publisher);
}

function evidenceArtifactName(settings: Settings, app: string, scenario: string | undefined): string {
  return (
    settings.traceArtifact ??
    `replay-env-${slug(app)}${settings.shard ? `-shard-${settings.shard.index}-of-${settings.shard.total}` : ''}${
      scenario ? `-${slug(scenario)}` : ''
    }`
  );
}

/** use-local-subject / rewrite-subject (inputs win), else the scenario's subjectRewrite. */
function subjectRewriteFor(
  settings: Settings,
  manifest: ReturnType<typeof loadManifest>,
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

function unitFor(checkName: string, j: Judgement, markdown: string, failOn: Settings['failOn']): ReportUnit {
  return {
    checkName,
    decision: j.decision,
    conclusion: conclusionFor(j.decision, failOn),
    title: checkRunTitle(j),
    markdown,
    annotations: j.annotations,
    externalId: j.scenario ? `${j.app}/${j.scenario}` : j.app,
  };
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
