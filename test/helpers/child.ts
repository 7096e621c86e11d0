/**
 * Watching a spawned child process: its stdout/stderr collected (readable while it runs) and a
 * promise of how it ended, with an optional SIGKILL deadline.
 */
import type { ChildProcess } from 'node:child_process';

export interface Exited {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface WatchedChild {
  child: ChildProcess;
  /** Output so far. */
  stdout: () => string;
  stderr: () => string;
  exited: Promise<Exited>;
}

/** Collects a child's output (spawned with stdout/stderr piped); SIGKILLs it after `timeoutMs`. */
export function watchChild(child: ChildProcess, timeoutMs?: number): WatchedChild {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => {
    stdout += d;
  });
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  const timer = timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const exited = new Promise<Exited>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}
