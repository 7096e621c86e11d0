/**
 * Readiness of a background command: poll its `readyUrl` until it answers (any status below 500)
 * or run its `readyCommand` until it exits 0 — never a blind sleep. Gives up when the timeout
 * passes, when the server process exits, or when the run is aborted.
 */
import type { ManagedProcess } from './processes.js';
import { runProcess, sleep } from './processes.js';

export type ReadyCheck =
  | { kind: 'url'; url: string }
  | { kind: 'command'; command: string; cwd: string; env: Record<string, string> }
  | { kind: 'none' };

export type ReadyOutcome =
  | { ready: true; waitedMs: number; attempts: number }
  | { ready: false; waitedMs: number; attempts: number; reason: string };

const POLL_MS = 200;

async function urlAnswers(url: string, timeoutMs: number): Promise<string | null> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
    await res.body?.cancel().catch(() => {});
    return res.status < 500 ? null : `answered ${res.status}`;
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return cause?.code ?? cause?.message ?? (err as Error).message;
  }
}

export async function waitUntilReady(
  server: ManagedProcess,
  check: ReadyCheck,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<ReadyOutcome> {
  const started = Date.now();
  let attempts = 0;
  let last = '';
  const waited = () => Date.now() - started;
  if (check.kind === 'none') return { ready: true, waitedMs: 0, attempts: 0 };
  while (true) {
    if (signal?.aborted) return { ready: false, waitedMs: waited(), attempts, reason: 'the run was aborted' };
    if (!server.running) {
      const r = await server.done;
      const how = r.signal ? `was killed by ${r.signal}` : `exited with code ${r.exitCode}`;
      return {
        ready: false,
        waitedMs: waited(),
        attempts,
        reason: `the server ${how} before it became ready`,
      };
    }
    const left = timeoutMs - waited();
    if (left <= 0) {
      const what = check.kind === 'url' ? `${check.url} never answered` : `readyCommand never exited 0`;
      return {
        ready: false,
        waitedMs: waited(),
        attempts,
        reason: `${what} within ${Math.round(timeoutMs / 1000)}s${last ? ` (last: ${last})` : ''}`,
      };
    }
    attempts++;
    if (check.kind === 'url') {
      const problem = await urlAnswers(check.url, Math.min(2000, left));
      if (problem === null) return { ready: true, waitedMs: waited(), attempts };
      last = problem;
    } else {
      const r = await runProcess(
        { command: check.command, cwd: check.cwd, env: check.env, timeoutMs: Math.min(10_000, left) },
        signal,
      );
      if (r.exitCode === 0) return { ready: true, waitedMs: waited(), attempts };
      last = r.timedOut ? 'readyCommand timed out' : `exit ${r.exitCode ?? r.signal}`;
    }
    await sleep(Math.min(POLL_MS, Math.max(0, timeoutMs - waited())));
  }
}
