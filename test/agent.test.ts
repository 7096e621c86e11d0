/**
 * A scripted coding agent: export → inspect → materialize → run → judge, each step driven only by
 * the previous step's --json output (and exit codes 0/1/2), as docs/agents.md tells agents to do.
 * `run` uses the embedded default (no --db-url, no env var).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '../src/postgres/embedded.js';
import { cli, REPO_ROOT } from './helpers/cli.js';
import { useTestDatabase } from './helpers/db.js';

const db = useTestDatabase('agent');
const EXAMPLE = join(REPO_ROOT, 'examples/socialapp');
const dir = mkdtempSync(join(tmpdir(), 'replay-agent-'));

/** The example manifest on a free port (other tests may run the example app at the same time). */
async function agentManifest(): Promise<string> {
  const port = await freePort();
  const text = readFileSync(join(REPO_ROOT, 'config/apps/socialapp.json'), 'utf8').replaceAll(
    '4517',
    String(port),
  );
  const m = JSON.parse(text);
  m.$schema = undefined;
  m.repoPath = EXAMPLE;
  m.golden = { dir: join(dir, 'golden') };
  m.probes = m.probes.filter((p: { kind: string }) => p.kind !== 'browser');
  const path = join(dir, 'socialapp.json');
  writeFileSync(path, JSON.stringify(m, null, 2));
  return path;
}

function json(step: string, r: { code: number; stdout: string; stderr: string }) {
  expect(r.code, `${step} exit code; stderr: ${r.stderr}`).toBe(0);
  try {
    return JSON.parse(r.stdout);
  } catch {
    throw new Error(`${step}: stdout is not JSON: ${r.stdout.slice(0, 300)}`);
  }
}

describe('a coding agent drives the loop through --json', () => {
  it('exports, inspects, materializes, runs on the embedded default and judges', {
    timeout: 120_000,
  }, async () => {
    await db.runFile(join(EXAMPLE, 'schema.sql'));
    await db.runFile(join(EXAMPLE, 'seed.sql'));
    const app = await agentManifest();

    // Bad input is exit 2 with a one-line reason on stderr and one JSON error document on stdout.
    const bad = await cli([
      'export-postgres',
      '--app',
      app,
      '--out',
      join(dir, 'x.json'),
      '--db-url',
      db.url,
      '--json',
    ]);
    expect(bad.code).toBe(2);
    expect(JSON.parse(bad.stdout)).toMatchObject({
      error: { code: 'bad_input', field: '--subject' },
      exitCode: 2,
    });
    expect(bad.stderr).toMatch(/missing subject: --subject tenant_id=<value> --subject user_id=<value>/);

    const exported = json(
      'export',
      await cli([
        'export-postgres',
        '--app',
        app,
        '--subject',
        'tenant_id=acme',
        '--subject',
        'user_id=ada',
        '--out',
        join(dir, 'ada.json'),
        '--db-url',
        db.url,
        '--json',
      ]),
    );
    expect(exported.closure.totalRows).toBe(5);

    const inspected = json('inspect', await cli(['inspect', exported.path, '--json']));
    expect(inspected.file.sha256).toBe(exported.sha256);
    expect(inspected.subject).toEqual({ tenant_id: 'acme', user_id: 'ada' });
    const closure = Object.fromEntries(
      inspected.closure.map((c: { name: string; rows: number; reasons: Record<string, number> }) => [
        c.name,
        c,
      ]),
    );
    expect(closure.workspaces).toEqual({
      name: 'workspaces',
      rows: 3,
      reasons: { 'fk:users_workspace_id_fkey': 3 },
    });

    const target = await db.create('agent_target');
    const materialized = json(
      'materialize',
      await cli([
        'materialize-postgres',
        '--app',
        app,
        '--capsule',
        inspected.file.path,
        '--db-url',
        target,
        '--create-schema',
        '--json',
      ]),
    );
    expect(materialized.status).toBe('ok');
    expect(materialized.schemaSource).toBe('capsule');
    for (const c of materialized.counts) expect(c.database, c.table).toBe(c.capsule);
    // Loading it again into the same database is refused: the tables exist (exit 1, not 2).
    const again = await cli([
      'materialize-postgres',
      '--app',
      app,
      '--capsule',
      exported.path,
      '--db-url',
      target,
      '--create-schema',
      '--json',
    ]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already has .*--replace-schema/);
    expect(JSON.parse(again.stdout).error).toMatchObject({ code: 'failed' });

    // run with no --db-url and no SOCIALAPP_REPLAY_DATABASE_URL: the embedded default.
    const tracePath = join(dir, 'trace.json');
    const ran = await cli(
      [
        'run',
        '--app',
        app,
        '--capsule',
        inspected.file.path,
        '--create-schema',
        '--trace-out',
        tracePath,
        '--json',
      ],
      { env: { SOCIALAPP_REPLAY_DATABASE_URL: '' } },
    );
    expect(ran.stderr).toMatch(/using a throwaway embedded PostgreSQL/);
    const trace = json('run', ran);
    expect(trace.kind).toBe('replay-env.trace');
    expect(trace.materialization.status).toBe('ok');
    expect(trace.gate.decision).toBe('continue');

    const judged = json('judge', await cli(['judge', '--trace', tracePath, '--app', app, '--json']));
    expect(judged.kind).toBe('replay-env.judgement');
    expect(judged.decision).toBe('continue');
  });
});
