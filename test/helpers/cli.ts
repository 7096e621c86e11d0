/**
 * Running the CLI from tests: in-process (fast, captures stdout/stderr) or as a real child
 * process of the TypeScript sources (for signals, exit codes and process-lifetime tests).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { runCli } from '../../src/cli/main.js';
import { watchChild } from './child.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SHARED_DIR = fileURLToPath(new URL('../../../shared/', import.meta.url));

/** In-process: the same code path as the binary, without a new Node process. */
export async function cli(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    env: { ...process.env, CI: 'true', ...opts.env },
    cwd: opts.cwd ?? process.cwd(),
    isTTY: false,
  });
  return { code, stdout, stderr };
}

const ENTRY = fileURLToPath(new URL('./cli-entry.ts', import.meta.url));

/** As a child process (`node --import tsx`), with a timeout. */
export function cliProcess(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<CliResult & { pid: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', ENTRY, ...args], {
    cwd: opts.cwd ?? REPO_ROOT,
    env: { ...process.env, CI: 'true', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return watchChild(child, opts.timeoutMs ?? 120_000).exited.then(({ code, signal, stdout, stderr }) => ({
    code: code ?? (signal ? 128 : 1),
    stdout,
    stderr,
    pid: child.pid ?? 0,
  }));
}
