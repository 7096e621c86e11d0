/**
 * The app's side of a run: the egress guard every command and probe goes through, the app's
 * environment (allow-listed base env + proxy + replay database), the manifest's commands in order
 * (foreground ones to completion, background ones until ready), and stopping what was started.
 */
import { replayUrlEnv } from '../manifest/schema.js';
import type { TraceEvent } from '../trace/schema.js';
import { type Background, runForeground, startBackground, stopBackground } from './commands.js';
import { type EgressGuard, startEgressGuard } from './egress-proxy.js';
import type { RunState } from './run-state.js';
import { appBaseEnv } from './schema-steps.js';

export interface AppSession {
  guard: EgressGuard;
  /** The environment of the app's commands and command probes. */
  env: Record<string, string>;
  /** Background commands started, in start order. */
  backgrounds: Background[];
}

export async function startApp(run: RunState): Promise<AppSession> {
  const { manifest, options } = run;
  const dbEnv = {
    [replayUrlEnv(manifest)]: options.databaseUrl,
    DATABASE_URL: options.databaseUrl,
    REPLAY_ENV: '1',
  };
  const baseEnv = appBaseEnv(manifest, options.env);
  const guard = await startEgressGuard(manifest.egress?.allow ?? []);
  return { guard, env: { ...baseEnv, ...guard.env(), ...dbEnv }, backgrounds: [] };
}

/**
 * The manifest's commands in order. After a required step failed (`failedBefore`: the database
 * phase) or on abort, the rest are recorded as skipped. Returns whether a required step failed.
 */
export async function runCommands(run: RunState, app: AppSession, failedBefore: boolean): Promise<boolean> {
  const { signal } = run.options;
  const ctx = { cwd: run.cwd, env: app.env, signal };
  let failed = failedBefore;
  for (const cmd of run.manifest.commands) {
    if (failed || signal?.aborted) {
      run.skipped.push(`command "${cmd.name}"`);
      continue;
    }
    app.guard.setDuring(cmd.name);
    run.emit({ kind: 'step-start', name: cmd.name, step: cmd.background ? 'background-start' : 'command' });
    let event: TraceEvent;
    if (cmd.background) {
      const started = await startBackground(cmd, ctx);
      if (started.background) app.backgrounds.push(started.background);
      event = started.event;
    } else event = await runForeground(cmd, ctx);
    run.record(event);
    if (!event.ok && !cmd.allowFailure) failed = true;
  }
  return failed;
}

/** Stops the background commands, app first (reverse start order), then the egress guard. */
export async function stopApp(run: RunState, app: AppSession): Promise<void> {
  app.guard.setDuring('stop');
  for (const bg of [...app.backgrounds].reverse()) run.record(await stopBackground(bg));
  await app.guard.close();
}
