/**
 * The database phase of a run: the manifest's `setup` commands on an empty database (zero-setup
 * replay) → the capsule's load → the pull request's migration over the loaded rows. A failure in
 * any of them is a failed materialization: recorded, never thrown, and the app's steps are skipped.
 */
import type { MaterializationRecord } from '../trace/schema.js';
import type { CommandContext } from './commands.js';
import { materializeForRun } from './materialize-step.js';
import type { RunCapsule } from './run-capsule.js';
import type { RunState } from './run-state.js';
import { databaseEnv, runMigration, runSetupCommands } from './schema-steps.js';

/** Runs setup, materialize and migrate as the options ask; without a capsule nothing is loaded. */
export async function prepareDatabase(
  run: RunState,
  capsule: RunCapsule | null,
): Promise<MaterializationRecord> {
  const { options } = run;
  if (!capsule || options.skipMaterialize) return { status: 'skipped', counts: [] };
  const stepCtx: CommandContext = {
    cwd: run.cwd,
    env: databaseEnv(run.manifest, options.env, options.databaseUrl),
    signal: options.signal,
  };
  if (options.runSetup) {
    const setup = await runSetupCommands(run.manifest, stepCtx);
    for (const e of setup.events) run.record(e);
    if (setup.error) return { status: 'failed', counts: [], error: setup.error };
  }
  run.emit({ kind: 'materialize-start' });
  let materialization = await loadCapsule(run, capsule);
  if (materialization.status === 'ok') materialization = await migrate(run, stepCtx, materialization);
  run.emit({ kind: 'materialize-done', record: materialization });
  return materialization;
}

/** The load itself (materialize-step.ts); a subject rewrite is noted in the capsule's summary. */
async function loadCapsule(run: RunState, capsule: RunCapsule): Promise<MaterializationRecord> {
  const { options } = run;
  const m = await materializeForRun({
    manifest: run.manifest,
    capsulePath: capsule.absolutePath,
    capsuleOpen: options.capsuleOpen,
    databaseUrl: options.databaseUrl,
    rewrite: options.rewrite,
    loadStrategy: options.loadStrategy,
    ...(options.deleteDependents ? { deleteDependents: true } : {}),
    chunkSize: options.chunkSize,
    prepareTarget: options.prepareTarget,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  if (m.subjectRewrite) capsule.summary.subjectRewrite = m.subjectRewrite;
  return m.record;
}

/** Migration replay: the manifest's `migrate` command over the loaded rows; its failure fails the load. */
async function migrate(
  run: RunState,
  stepCtx: CommandContext,
  loaded: MaterializationRecord,
): Promise<MaterializationRecord> {
  const migrated = await runMigration(run.manifest, stepCtx);
  if (!migrated) return loaded;
  run.record(migrated.event);
  if (!migrated.error) return loaded;
  return {
    ...loaded,
    status: 'failed',
    error: migrated.error,
    ...(migrated.migration ? { migration: migrated.migration } : {}),
  };
}
