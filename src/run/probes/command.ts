/** Command probe: a shell command whose exit code decides; records bounded output tails. */
import { resolve } from 'node:path';
import type { z } from 'zod';
import type { commandProbeSchema } from '../../manifest/schema.js';
import { OUTPUT_TAIL } from '../commands.js';
import { runProcess } from '../processes.js';
import { DEFAULT_PROBE_TIMEOUT_S, type ProbeContext } from './context.js';
import type { ProbeOutcome } from './http.js';

export type CommandProbe = z.infer<typeof commandProbeSchema>;

/** argv as one readable line (for the trace only: it is never run through a shell). */
function displayArgv(argv: string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
}

export async function runCommandProbe(probe: CommandProbe, ctx: ProbeContext): Promise<ProbeOutcome> {
  const timeoutS = probe.timeoutSeconds ?? DEFAULT_PROBE_TIMEOUT_S;
  const r = await runProcess(
    {
      command: probe.command,
      ...(probe.args ? { argv: [probe.command, ...probe.args] } : {}),
      cwd: probe.cwd ? resolve(ctx.cwd, probe.cwd) : ctx.cwd,
      env: { ...ctx.env, ...(probe.env ?? {}) },
      timeoutMs: timeoutS * 1000,
    },
    ctx.signal,
  );
  const command = {
    command: probe.args ? displayArgv([probe.command, ...probe.args]) : probe.command,
    exitCode: r.exitCode,
    signal: r.signal,
    timedOut: r.timedOut,
    stdoutTail: r.stdout.text(OUTPUT_TAIL),
    stderrTail: r.stderr.text(OUTPUT_TAIL),
  };
  if (r.spawnError) return { ok: false, error: `could not start: ${r.spawnError}`, command };
  if (r.timedOut)
    return { ok: false, error: `timed out after ${timeoutS}s (process group stopped)`, command };
  if (r.stopped) return { ok: false, error: 'stopped: the run was aborted', command };
  if (r.exitCode !== 0)
    return { ok: false, error: `exited with ${r.exitCode ?? `signal ${r.signal}`}`, command };
  return { ok: true, command };
}
