/**
 * `runReplay`: the run stage, shared by the CLI `run` and the GitHub Action.
 *
 * materialize (unless skipped or no capsule) → commands in manifest order → probes → stop
 * background processes → trace. Every child runs in its own process group and is stopped at the
 * end, on failure, and on abort. Outbound traffic of commands and probes goes through the egress
 * guard. The trace is masked (secrets never reach it), validated against its schema and, with
 * `traceOut`, written atomically. Stages never print and never read process.env.
 */
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import type { OpenOptions } from '../capsule/open.js';
import { InputError, ReplayError } from '../errors.js';
import { type Manifest, type ManifestProbe, probeName, replayUrlEnv } from '../manifest/schema.js';
import type { PrepareTarget } from '../postgres/materialize/materialize-capsule.js';
import { classifyDatabaseUrl, displayUrl } from '../postgres/target-safety.js';
import { describeCapsule, runGate } from '../trace/build.js';
import { environmentFacts } from '../trace/environment.js';
import { type MaterializationRecord, type Trace, type TraceEvent, traceSchema } from '../trace/schema.js';
import { writeTraceAtomic } from '../trace/write.js';
import { issueLines } from '../util/zod-issues.js';
import { type Background, runForeground, startBackground, stopBackground } from './commands.js';
import { type DbStateRecorder, snapshotAfterMaterialize, snapshotAfterProbes } from './db-state-step.js';
import { type EgressGuard, startEgressGuard } from './egress-proxy.js';
import { buildMasker, maskDeep, secretValues } from './mask.js';
import { materializeForRun } from './materialize-step.js';
import { refuseOccupiedReadyUrls } from './port-check.js';
import { bindProbe, type SubjectValues, subjectValues } from './probe-binding.js';
import { runBrowserProbe } from './probes/browser.js';
import { runCommandProbe } from './probes/command.js';
import type { ProbeContext } from './probes/context.js';
import { type ProbeOutcome, runHttpProbe } from './probes/http.js';
import { runSqlProbe } from './probes/sql.js';
import { appBaseEnv, databaseEnv, runMigration, runSetupCommands, withheldEnvNames } from './schema-steps.js';

export interface RunOptions {
  manifest: Manifest;
  manifestPath: string;
  capsulePath?: string;
  /** How to open an encrypted capsule (the front door supplies the key). */
  capsuleOpen?: OpenOptions;
  /** The replay database (already checked by the front door: not production-looking). */
  databaseUrl: string;
  skipMaterialize?: boolean;
  /** Subject rewrite for materialization (from --use-local-subject / --rewrite-subject). */
  rewrite?: Record<string, string>;
  loadStrategy?: 'jsonb' | 'copy';
  /** --delete-dependents (see postgres/materialize/delete-phase.ts). */
  deleteDependents?: boolean;
  chunkSize?: number;
  /** Zero-setup replay: create the capsule's tables before loading (postgres/materialize/zero-setup.ts). */
  prepareTarget?: PrepareTarget;
  /** Zero-setup replay: run the manifest's `setup` commands on the empty database before loading. */
  runSetup?: boolean;
  /** Where screenshots go; default `<trace dir>/artifacts`, else `.replay/artifacts` under the cwd. */
  artifactsDir?: string;
  traceOut?: string;
  /** Base environment for commands (passed in, never read from process.env here). */
  env: Record<string, string | undefined>;
  /** Further secret values to mask in the trace (e.g. the Action's capsule key and token). */
  maskValues?: string[];
  /** The caller's current directory (default working directory when the manifest has no repoPath). */
  cwd: string;
  scenario?: string;
  onEvent?: (progress: RunProgress) => void;
  signal?: AbortSignal;
}

export type RunProgress =
  | { kind: 'materialize-start' }
  | { kind: 'materialize-done'; record: MaterializationRecord }
  | { kind: 'step-start'; name: string; step: TraceEvent['kind'] }
  | { kind: 'step-done'; event: TraceEvent };

export interface RunResult {
  trace: Trace;
  tracePath?: string;
}

/** repoPath is relative to the manifest file's directory; without it, the caller's cwd. */
export function runCwd(manifest: Manifest, manifestPath: string, cwd: string): string {
  if (!manifest.repoPath) return cwd;
  return isAbsolute(manifest.repoPath)
    ? manifest.repoPath
    : resolve(dirname(resolve(cwd, manifestPath)), manifest.repoPath);
}

function stringEnv(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}

async function runProbe(
  template: ManifestProbe,
  name: string,
  ctx: ProbeContext,
  values: SubjectValues,
): Promise<ProbeOutcome> {
  const bound = bindProbe(template, values);
  if ('error' in bound) return { ok: false, error: bound.error };
  const probe = bound.probe;
  switch (probe.kind) {
    case 'http':
      return runHttpProbe(probe, ctx);
    case 'command':
      return runCommandProbe(probe, ctx);
    case 'sql':
      return runSqlProbe(probe, ctx, bound.sql);
    case 'browser':
      return runBrowserProbe(probe, name, ctx);
  }
}

export async function runReplay(options: RunOptions): Promise<RunResult> {
  const { manifest, signal } = options;
  // Defence in depth: the front doors refuse production-looking targets (and remote ones without
  // an explicit allowance) before calling here; a new caller that forgets cannot load a capsule
  // into, or run an app's commands against, a production-looking database.
  const target = classifyDatabaseUrl(options.databaseUrl, options.env);
  if (target.kind === 'production' || target.kind === 'invalid')
    throw new InputError(
      `refusing to replay into ${displayUrl(options.databaseUrl)}: ${target.kind === 'production' ? `it looks like a production database (${target.reason})` : target.reason}`,
    );
  const emit = options.onEvent ?? (() => {});
  const startedAt = new Date();
  const cwd = runCwd(manifest, options.manifestPath, options.cwd);
  const traceOut = options.traceOut ? resolve(options.cwd, options.traceOut) : undefined;
  const artifactsDir = options.artifactsDir
    ? resolve(options.cwd, options.artifactsDir)
    : traceOut
      ? join(dirname(traceOut), 'artifacts')
      : join(options.cwd, '.replay', 'artifacts');

  // The capsule is described first: a bad capsule path is bad input, before anything runs.
  const capsule = options.capsulePath
    ? await describeCapsule(resolve(options.cwd, options.capsulePath), options.capsuleOpen)
    : null;
  if (capsule) {
    capsule.summary.path = options.capsulePath!;
    if (capsule.scan.header.app !== manifest.appId)
      throw new InputError(
        `${options.capsulePath}: capsule is for app ${JSON.stringify(capsule.scan.header.app)}, but the manifest ${options.manifestPath} is appId ${JSON.stringify(manifest.appId)}`,
      );
  }

  // Nothing may already answer where the app will be probed (port-check.ts).
  await refuseOccupiedReadyUrls(manifest.commands);

  const events: TraceEvent[] = [];
  const skipped: string[] = [];
  let materialization: MaterializationRecord = { status: 'skipped', counts: [] };
  let aborted = false;

  // Zero-setup and migration replay (run/schema-steps.ts): setup before the load, migrate after it.
  const stepCtx = { cwd, env: databaseEnv(manifest, options.env, options.databaseUrl), signal };
  let setupError: string | undefined;
  if (capsule && !options.skipMaterialize && options.runSetup) {
    const setup = await runSetupCommands(manifest, stepCtx);
    for (const e of setup.events) {
      events.push(e);
      emit({ kind: 'step-done', event: e });
    }
    setupError = setup.error;
    if (setupError) materialization = { status: 'failed', counts: [], error: setupError };
  }

  if (capsule && !options.skipMaterialize && !setupError) {
    emit({ kind: 'materialize-start' });
    const m = await materializeForRun({
      manifest,
      capsulePath: resolve(options.cwd, options.capsulePath!),
      capsuleOpen: options.capsuleOpen,
      databaseUrl: options.databaseUrl,
      rewrite: options.rewrite,
      loadStrategy: options.loadStrategy,
      ...(options.deleteDependents ? { deleteDependents: true } : {}),
      chunkSize: options.chunkSize,
      prepareTarget: options.prepareTarget,
      ...(signal ? { signal } : {}),
    });
    materialization = m.record;
    if (m.subjectRewrite && capsule) capsule.summary.subjectRewrite = m.subjectRewrite;
    if (materialization.status === 'ok') {
      const migrated = await runMigration(manifest, stepCtx);
      if (migrated) {
        events.push(migrated.event);
        emit({ kind: 'step-done', event: migrated.event });
        if (migrated.error)
          materialization = {
            ...materialization,
            status: 'failed',
            error: migrated.error,
            ...(migrated.migration ? { migration: migrated.migration } : {}),
          };
      }
    }
    emit({ kind: 'materialize-done', record: materialization });
  }
  // The database state the probes start from (db-state-step.ts).
  const dbState: DbStateRecorder | null =
    capsule && materialization.status === 'ok'
      ? await snapshotAfterMaterialize({
          manifest,
          header: capsule.scan.header,
          capsuleTables: Object.keys(capsule.summary.tables),
          databaseUrl: options.databaseUrl,
          ...(options.rewrite ? { rewrite: options.rewrite } : {}),
        })
      : null;

  const dbEnv = {
    [replayUrlEnv(manifest)]: options.databaseUrl,
    DATABASE_URL: options.databaseUrl,
    REPLAY_ENV: '1',
  };
  const baseEnv = appBaseEnv(manifest, options.env);
  // The withheld variables' values are masked too, should they reach the app some other way.
  const secretNames = [...(manifest.secrets?.env ?? []), ...withheldEnvNames(manifest)];
  const mask = buildMasker([
    ...(options.maskValues ?? []),
    ...secretValues(
      secretNames,
      stringEnv(options.env),
      ...manifest.commands.map((c) => c.env ?? {}),
      ...manifest.probes.map((p) => (p.kind === 'command' ? (p.env ?? {}) : {})),
    ),
  ]);

  let guard: EgressGuard | undefined;
  const backgrounds: Background[] = [];
  const record = (e: TraceEvent) => {
    events.push(e);
    emit({ kind: 'step-done', event: e });
  };
  try {
    guard = await startEgressGuard(manifest.egress?.allow ?? []);
    const env = { ...baseEnv, ...guard.env(), ...dbEnv };
    const ctx = { cwd, env, signal };
    let stop = materialization.status === 'failed';

    for (const cmd of manifest.commands) {
      if (signal?.aborted) aborted = true;
      if (stop || aborted) {
        skipped.push(`command "${cmd.name}"`);
        continue;
      }
      guard.setDuring(cmd.name);
      emit({ kind: 'step-start', name: cmd.name, step: cmd.background ? 'background-start' : 'command' });
      if (cmd.background) {
        const { event, background } = await startBackground(cmd, ctx);
        if (background) backgrounds.push(background);
        record(event);
        if (!event.ok && !cmd.allowFailure) stop = true;
      } else {
        const event = await runForeground(cmd, ctx);
        record(event);
        if (!event.ok && !cmd.allowFailure) stop = true;
      }
    }

    const probeCtx: ProbeContext = {
      cwd,
      env,
      databaseUrl: options.databaseUrl,
      guard,
      artifactsDir,
      toolEnv: options.env,
      mask,
      ...(signal ? { signal } : {}),
    };
    const values = subjectValues({
      capsuleSubject: capsule?.summary.subject,
      rewriteTo: capsule?.summary.subjectRewrite?.to ?? options.rewrite,
      localSubject: manifest.localSubject,
    });
    for (const [i, probe] of manifest.probes.entries()) {
      const name = probeName(probe, i);
      if (signal?.aborted) aborted = true;
      if (stop || aborted) {
        skipped.push(`probe "${name}"`);
        continue;
      }
      const kind = `probe-${probe.kind}` as TraceEvent['kind'];
      guard.setDuring(name);
      emit({ kind: 'step-start', name, step: kind });
      const t0 = Date.now();
      const at = new Date().toISOString();
      let outcome: ProbeOutcome;
      try {
        outcome = await runProbe(probe, name, probeCtx, values);
      } catch (err) {
        outcome = { ok: false, error: `probe crashed: ${(err as Error).message}` };
      }
      record({
        name,
        kind,
        ...(probe.allowFailure ? { allowFailure: true } : {}),
        startedAt: at,
        durationMs: Date.now() - t0,
        ...outcome,
      });
    }
  } finally {
    guard?.setDuring('stop');
    // Reverse start order: the app stops before the services it depends on.
    for (const bg of backgrounds.reverse()) record(await stopBackground(bg));
    await guard?.close();
  }
  if (signal?.aborted) aborted = true;
  const databaseState = dbState && !aborted ? await snapshotAfterProbes(dbState) : undefined;

  const outbound = [...(guard?.attempts ?? [])].sort((a, b) => a.at.localeCompare(b.at));
  const artifacts: Trace['artifacts'] = [];
  for (const e of events) {
    if (e.browser?.screenshot) {
      const abs = e.browser.screenshot;
      const rel = traceOut ? relative(dirname(traceOut), abs) : abs;
      e.browser.screenshot = rel;
      if (existsSync(abs)) artifacts.push({ kind: 'screenshot', path: rel, probe: e.name });
    }
  }
  const finishedAt = new Date();
  const draft: Trace = {
    schemaVersion: 1,
    kind: 'replay-env.trace',
    app: manifest.appId,
    ...(options.scenario ? { scenario: options.scenario } : {}),
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationMs: finishedAt.getTime() - startedAt.getTime(),
    capsule: capsule?.summary ?? null,
    materialization,
    events,
    outbound,
    artifacts,
    environment: await environmentFacts(options.databaseUrl, cwd),
    ...(databaseState ? { databaseState } : {}),
    gate: runGate({ materialization, events, outbound, skipped, aborted }),
  };
  const masked = maskDeep(draft, mask);
  const parsed = traceSchema.safeParse(masked);
  if (!parsed.success) {
    // A bug in the run loop, not in the user's input: say exactly what is wrong.
    throw new ReplayError(
      `internal error: the trace does not match its schema:\n${issueLines(parsed.error).join('\n')}`,
    );
  }
  if (traceOut) writeTraceAtomic(traceOut, masked);
  return { trace: masked, ...(traceOut ? { tracePath: traceOut } : {}) };
}
