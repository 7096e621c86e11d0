/**
 * Zero-setup steps around materialization, run as foreground commands with the replay database
 * in DATABASE_URL (and the manifest's replay-URL variable):
 *
 * - `setup`: the app's own migrations creating its schema on an EMPTY database (the alternative to
 *   the capsule's `schema` section), before the capsule is loaded.
 * - `migrate`: migration replay. The pull request's migrations run AFTER the capsule was loaded
 *   into the schema it was exported with, so they meet real old data (a NOT NULL column over rows
 *   holding nulls, a unique index over real duplicates). A failing migration is a failed
 *   materialization: the trace records its command, exit code and output, and the gate blocks.
 */
import { CAPSULE_KEY_ENV, CAPSULE_KEY_FILE_ENV } from '../capsule/encryption.js';
import { type Manifest, prodUrlEnv, replayUrlEnv } from '../manifest/schema.js';
import type { TraceEvent } from '../trace/schema.js';
import { optedInEnv, passesToApp } from './app-env-allow.js';
import { type CommandContext, runForeground } from './commands.js';

export interface MigrationRecord {
  command: string;
  exitCode: number | null;
  outputTail: string;
}

/** Environment of setup/migrate commands: the base env plus the replay database URL. */
/**
 * Variables the app under test never gets: the production database URL (a replay must not be able
 * to reach production, whatever the app's config falls back to) and the capsule key (the app needs
 * the replayed rows, not the means to decrypt other capsules).
 */
export function withheldEnvNames(manifest: Manifest): string[] {
  return [prodUrlEnv(manifest), CAPSULE_KEY_ENV, CAPSULE_KEY_FILE_ENV];
}

/**
 * The allow-listed part of the caller's environment (app-env-allow.ts), minus the withheld
 * variables (see withheldEnvNames), which no opt-in lets through.
 */
export function appBaseEnv(
  manifest: Manifest,
  base: Record<string, string | undefined>,
): Record<string, string> {
  const withheld = new Set(withheldEnvNames(manifest));
  const optedIn = new Set(optedInEnv(manifest));
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base))
    if (v !== undefined && !withheld.has(k) && passesToApp(k, optedIn)) env[k] = v;
  return env;
}

export function databaseEnv(
  manifest: Manifest,
  base: Record<string, string | undefined>,
  databaseUrl: string,
): Record<string, string> {
  const env = appBaseEnv(manifest, base);
  env[replayUrlEnv(manifest)] = databaseUrl;
  env.DATABASE_URL = databaseUrl;
  env.REPLAY_ENV = '1';
  return env;
}

/** Runs the manifest's `setup` commands in order; stops at the first failure. */
export async function runSetupCommands(
  manifest: Manifest,
  ctx: CommandContext,
): Promise<{ events: TraceEvent[]; error?: string }> {
  const events: TraceEvent[] = [];
  for (const cmd of manifest.setup ?? []) {
    const event = await runForeground(cmd, ctx, 'setup');
    events.push(event);
    if (!event.ok && !cmd.allowFailure)
      return { events, error: `setup command "${cmd.name}" failed: ${event.error}${outputNote(event)}` };
  }
  return { events };
}

/** Runs the manifest's `migrate` command (null when it has none). */
export async function runMigration(
  manifest: Manifest,
  ctx: CommandContext,
): Promise<{ event: TraceEvent; migration?: MigrationRecord; error?: string } | null> {
  const cmd = manifest.migrate;
  if (!cmd) return null;
  const event = await runForeground(cmd, ctx, 'migrate');
  if (event.ok) return { event };
  const outputTail = [event.command?.stdoutTail, event.command?.stderrTail].filter(Boolean).join('\n').trim();
  return {
    event,
    migration: { command: cmd.run, exitCode: event.command?.exitCode ?? null, outputTail },
    error: `migration "${cmd.name}" failed on the replayed data: ${event.error}${outputNote(event)}`,
  };
}

function outputNote(event: TraceEvent): string {
  const out = [event.command?.stdoutTail, event.command?.stderrTail].filter(Boolean).join('\n').trim();
  if (!out) return '';
  const lines = out.split('\n');
  return `\n${lines.slice(-15).join('\n')}`;
}
