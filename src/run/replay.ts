/**
 * `runReplay`: the run stage, shared by the CLI `run`, the GitHub Action and the demo.
 *
 * One run is a short list of named phases over one RunState (run-state.ts):
 *   refuse an unsafe target → describe the capsule (run-capsule.ts) → refuse occupied ready URLs
 *   (port-check.ts) → prepare the database: setup, materialize, migrate (prepare-database.ts) →
 *   snapshot the database state (db-state-step.ts) → start the app's side: egress guard and env (app-session.ts) → commands → probes
 *   (probe-steps.ts) → stop background processes → snapshot the database state again → the
 *   trace (finish-trace.ts).
 * Every child runs in its own process group and is stopped at the end, on failure, and on abort.
 * Outbound traffic of commands and probes goes through the egress guard. The trace is masked
 * (secrets never reach it), validated against its schema and, with `traceOut`, written atomically.
 * Stages never print and never read process.env.
 */
import type { OpenOptions } from '../capsule/open.js';
import type { Manifest } from '../manifest/schema.js';
import type { PrepareTarget } from '../postgres/materialize/materialize-capsule.js';
import { refuseUnsafeTarget } from '../postgres/target-safety.js';
import type { MaterializationRecord, Trace, TraceEvent } from '../trace/schema.js';
import { runCommands, startApp, stopApp } from './app-session.js';
import { type DbStateRecorder, snapshotAfterMaterialize, snapshotAfterProbes } from './db-state-step.js';
import { finishTrace } from './finish-trace.js';
import { refuseOccupiedReadyUrls } from './port-check.js';
import { prepareDatabase } from './prepare-database.js';
import { runProbes } from './probe-steps.js';
import { describeRunCapsule, type RunCapsule } from './run-capsule.js';
import { startRun } from './run-state.js';

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

export async function runReplay(options: RunOptions): Promise<RunResult> {
  // Defence in depth: the front doors refuse production-looking targets (and remote ones without
  // an explicit allowance) before calling here; a new caller that forgets cannot load a capsule
  // into, or run an app's commands against, a production-looking database.
  refuseUnsafeTarget(options.databaseUrl, options.env, { doing: 'replay into', allowRemote: true });
  const run = startRun(options);
  // The capsule is described first: a bad capsule is bad input, before anything runs.
  const capsule = await describeRunCapsule(options);
  // Nothing may already answer where the app will be probed.
  await refuseOccupiedReadyUrls(options.manifest.commands);
  const materialization = await prepareDatabase(run, capsule);
  const dbState = await snapshotLoadedState(options, capsule, materialization);
  const app = await startApp(run);
  try {
    const failed = await runCommands(run, app, materialization.status === 'failed');
    await runProbes(run, app, capsule, failed);
  } finally {
    // Reverse start order: the app stops before the services it depends on.
    await stopApp(run, app);
  }
  const databaseState = dbState && !options.signal?.aborted ? await snapshotAfterProbes(dbState) : undefined;
  return finishTrace(run, {
    capsule,
    materialization,
    outbound: app.guard.attempts,
    ...(databaseState ? { databaseState } : {}),
  });
}

/** The database state the probes start from (db-state-step.ts), when a capsule was loaded. */
async function snapshotLoadedState(
  options: RunOptions,
  capsule: RunCapsule | null,
  materialization: MaterializationRecord,
): Promise<DbStateRecorder | null> {
  if (!capsule || materialization.status !== 'ok') return null;
  return snapshotAfterMaterialize({
    manifest: options.manifest,
    header: capsule.scan.header,
    capsuleTables: Object.keys(capsule.summary.tables),
    databaseUrl: options.databaseUrl,
    ...(options.rewrite ? { rewrite: options.rewrite } : {}),
  });
}
