/**
 * The manifest's `commands`, in order. A foreground command runs to completion within its
 * timeout; a background command (a server) is started, checked for readiness, and left running
 * until the end of the run, when `stopBackground` stops its whole process group.
 */
import { resolve } from 'node:path';
import type { ManifestCommand } from '../manifest/schema.js';
import type { TraceEvent } from '../trace/schema.js';
import { type ManagedProcess, type ProcessResult, runProcess, startProcess } from './processes.js';
import { waitUntilReady } from './readiness.js';

export const OUTPUT_TAIL = 4000;
/** Default limit for a foreground command without timeoutSeconds. */
const DEFAULT_COMMAND_TIMEOUT_S = 600;
/** Default readiness limit for a background command. */
const DEFAULT_READY_TIMEOUT_S = 60;

export interface CommandContext {
  cwd: string;
  env: Record<string, string>;
  signal?: AbortSignal;
}

export interface Background {
  command: ManifestCommand;
  process: ManagedProcess;
}

function commandCwd(cmd: { cwd?: string }, ctx: CommandContext): string {
  return cmd.cwd ? resolve(ctx.cwd, cmd.cwd) : ctx.cwd;
}

function describeExit(r: ProcessResult): string {
  if (r.spawnError) return `could not start: ${r.spawnError}`;
  return r.signal ? `killed by ${r.signal}` : `exited with code ${r.exitCode}`;
}

function outputFor(
  label: string,
  p: { stdout: { text(n: number): string }; stderr: { text(n: number): string } },
) {
  const out = `${p.stdout.text(1500)}${p.stderr.text(1500)}`.trim();
  return out ? `\n--- last output of ${label} ---\n${out}` : `\n(${label} printed nothing)`;
}

/** Runs a foreground command; the event says whether it succeeded. */
export async function runForeground(
  cmd: ManifestCommand,
  ctx: CommandContext,
  kind: TraceEvent['kind'] = 'command',
): Promise<TraceEvent> {
  const startedAt = new Date().toISOString();
  const timeoutS = cmd.timeoutSeconds ?? DEFAULT_COMMAND_TIMEOUT_S;
  const r = await runProcess(
    {
      command: cmd.run,
      cwd: commandCwd(cmd, ctx),
      env: { ...ctx.env, ...(cmd.env ?? {}) },
      timeoutMs: timeoutS * 1000,
    },
    ctx.signal,
  );
  let error: string | undefined;
  if (r.timedOut) error = `timed out after ${timeoutS}s; its process group was stopped`;
  else if (r.stopped) error = 'stopped: the run was aborted';
  else if (r.spawnError || r.exitCode !== 0) error = describeExit(r);
  return {
    name: cmd.name,
    kind,
    ok: error === undefined,
    ...(cmd.allowFailure ? { allowFailure: true } : {}),
    startedAt,
    durationMs: r.durationMs,
    ...(error ? { error } : {}),
    command: {
      command: cmd.run,
      exitCode: r.exitCode,
      signal: r.signal,
      timedOut: r.timedOut,
      stdoutTail: r.stdout.text(OUTPUT_TAIL),
      stderrTail: r.stderr.text(OUTPUT_TAIL),
    },
  };
}

/**
 * Starts a background command and waits until it is ready. When it never gets ready, its group
 * is stopped and the event carries the reason and the tail of its output.
 */
export async function startBackground(
  cmd: ManifestCommand,
  ctx: CommandContext,
): Promise<{ event: TraceEvent; background?: Background }> {
  const startedAt = new Date().toISOString();
  const cwd = commandCwd(cmd, ctx);
  const env = { ...ctx.env, ...(cmd.env ?? {}) };
  const proc = startProcess({ command: cmd.run, cwd, env });
  const readyTimeoutS = cmd.readyTimeoutSeconds ?? cmd.timeoutSeconds ?? DEFAULT_READY_TIMEOUT_S;
  const check = cmd.readyUrl
    ? ({ kind: 'url', url: cmd.readyUrl } as const)
    : cmd.readyCommand
      ? ({ kind: 'command', command: cmd.readyCommand, cwd, env } as const)
      : ({ kind: 'none' } as const);
  const outcome = await waitUntilReady(proc, check, readyTimeoutS * 1000, ctx.signal);
  const base = {
    name: cmd.name,
    kind: 'background-start' as const,
    ...(cmd.allowFailure ? { allowFailure: true } : {}),
    startedAt,
    durationMs: outcome.waitedMs,
  };
  if (outcome.ready) {
    return {
      event: { ...base, ok: true, command: { command: cmd.run, exitCode: null } },
      background: { command: cmd, process: proc },
    };
  }
  const r = await proc.stop();
  return {
    event: {
      ...base,
      ok: false,
      error: `background command "${cmd.name}" never became ready: ${outcome.reason}${outputFor(cmd.name, proc)}`,
      command: {
        command: cmd.run,
        exitCode: r.exitCode,
        signal: r.signal,
        stdoutTail: proc.stdout.text(OUTPUT_TAIL),
        stderrTail: proc.stderr.text(OUTPUT_TAIL),
      },
    },
  };
}

/** Stops a background command's group; not ok when it had already exited on its own. */
export async function stopBackground(bg: Background): Promise<TraceEvent> {
  const startedAt = new Date().toISOString();
  const t0 = Date.now();
  const crashed = !bg.process.running;
  const r = await bg.process.stop();
  return {
    name: bg.command.name,
    kind: 'background-stop',
    ok: !crashed,
    ...(bg.command.allowFailure ? { allowFailure: true } : {}),
    startedAt,
    durationMs: Date.now() - t0,
    ...(crashed ? { error: `exited on its own before the end of the run (${describeExit(r)})` } : {}),
    command: {
      command: bg.command.run,
      exitCode: r.exitCode,
      signal: r.signal,
      stdoutTail: bg.process.stdout.text(OUTPUT_TAIL),
      stderrTail: bg.process.stderr.text(OUTPUT_TAIL),
    },
  };
}
