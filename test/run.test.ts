/**
 * `replay-env run` end to end against a real Postgres and the real fixture HTTP server
 * (test/fixtures/app/server.mjs) started as a background command.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadManifest } from '../src/manifest/load.js';
import { liveProcesses } from '../src/run/processes.js';
import { runReplay } from '../src/run/replay.js';
import { parseTrace, readTraceFile } from '../src/trace/read.js';
import type { Trace } from '../src/trace/schema.js';
import { stringifyExact, toPlain } from '../src/util/exact-json.js';
import {
  baseEnv,
  createFixtureSchema,
  fixtureManifest,
  freePort,
  readPids,
  SCHEMA_SQL,
  serverCommand,
  survivors,
  tempDir,
  writeManifest,
} from './fixtures/app/harness.js';
import { cli } from './helpers/cli.js';
import { useTestDatabase, withClient } from './helpers/db.js';

const db = useTestDatabase('run');
const tmp = tempDir();

beforeAll(async () => {
  await createFixtureSchema(db);
});
afterAll(() => tmp.cleanup());

function readTrace(path: string): Trace {
  return readTraceFile(path);
}

async function fixtureRun(
  name: string,
  manifestExtra: (port: number, pidFile: string) => Record<string, unknown>,
  env: Record<string, string> = {},
) {
  const port = await freePort();
  const pidFile = join(tmp.dir, `${name}.pid`);
  const manifestPath = writeManifest(tmp.dir, fixtureManifest(manifestExtra(port, pidFile)), `${name}.json`);
  const traceOut = join(tmp.dir, `${name}.trace.json`);
  const r = await cli(
    ['run', '--app', manifestPath, '--db-url', db.url, '--skip-materialize', '--trace-out', traceOut],
    { env: { ...baseEnv(env) } as Record<string, string> },
  );
  return { ...r, port, pidFile, traceOut, trace: existsSync(traceOut) ? readTrace(traceOut) : null };
}

describe('run: a green run against the fixture app', () => {
  it('runs commands and probes, writes a valid trace, exits 0 and leaves no process behind', async () => {
    const r = await fixtureRun('green', (port, pidFile) => ({
      commands: [{ name: 'build', run: 'echo building; echo to-stderr >&2' }, serverCommand(port, pidFile)],
      probes: [
        { name: 'health', kind: 'http', url: `http://127.0.0.1:${port}/api/health`, expectStatus: 200 },
        {
          name: 'timeline',
          kind: 'http',
          url: `http://127.0.0.1:${port}/api/users/u-alice/timeline`,
          recordHeaders: ['x-fixture'],
        },
        {
          name: 'posts',
          kind: 'sql',
          query:
            "select id, body, amount, meta, created_at from posts where user_id = 'u-alice' order by id;",
        },
        {
          name: 'env',
          kind: 'command',
          command:
            'test "$REPLAY_ENV" = 1 && test "$FIXTURE_REPLAY_DATABASE_URL" = "$DATABASE_URL" && echo sees-replay-db',
        },
      ],
    }));
    expect(r.stderr).not.toMatch(/unexpected error/);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const t = r.trace!;
    expect(t.gate).toEqual({ decision: 'continue', reasons: [] });
    expect(t.app).toBe('fixture');
    expect(t.materialization.status).toBe('skipped');
    expect(t.events.map((e) => [e.kind, e.name, e.ok])).toEqual([
      ['command', 'build', true],
      ['background-start', 'api', true],
      ['probe-http', 'health', true],
      ['probe-http', 'timeline', true],
      ['probe-sql', 'posts', true],
      ['probe-command', 'env', true],
      ['background-stop', 'api', true],
    ]);
    const build = t.events[0]!.command!;
    expect(build.exitCode).toBe(0);
    expect(build.stdoutTail).toBe('building\n');
    expect(build.stderrTail).toBe('to-stderr\n');

    const health = t.events[2]!.http!;
    expect(health.status).toBe(200);
    expect(toPlain(health.json)).toEqual({ ok: true, db: 'up' });
    const timeline = t.events[3]!.http!;
    expect(timeline.headers).toEqual({ 'x-fixture': 'replay-app' });
    expect((toPlain(timeline.json) as { user: unknown }).user).toEqual({ id: 'u-alice', name: 'Alice' });

    const sql = t.events[4]!.sql!;
    expect(sql.columns).toEqual(['id', 'body', 'amount', 'meta', 'created_at']);
    expect(sql.rowCount).toBe(2);
    expect(sql.truncated).toBe(false);
    expect(sql.ordered).toBe(true);
    // Exact values in the trace file: no rounding of big integers, numerics or JSON numbers.
    const text = readFileSync(r.traceOut, 'utf8');
    expect(text).toContain('9007199254740993');
    expect(text).toContain('123456789012345678901234567890');
    expect(text).toContain('1.10');
    expect(stringifyExact(sql.rows[0]!.slice(0, 4))).toBe('[2,"second",2.50,null]');
    expect(stringifyExact(sql.rows[1]!.slice(0, 4))).toBe(
      '[9007199254740993,"hello",1.10,{"n":123456789012345678901234567890}]',
    );
    expect(sql.rows[0]![4]).toMatch(/^2026-01-0[12] \d\d:04:05/); // Postgres's own text, not a JS Date

    expect(t.events[5]!.command!.stdoutTail).toBe('sees-replay-db\n');
    expect(t.environment.postgres).toMatch(/^\d+/);
    expect(t.environment.node).toBe(process.version);
    expect(r.stdout).toMatch(/gate CONTINUE/);

    const [serverPid] = readPids(r.pidFile);
    expect(await survivors([serverPid!], 1000)).toEqual([]);
    expect(liveProcesses()).toEqual([]);
  });

  it('prints the trace with --json and the summary without --trace-out', async () => {
    const dir = tmp.dir;
    const manifestPath = writeManifest(
      dir,
      fixtureManifest({ commands: [{ name: 'hello', run: 'echo hi' }] }),
      'json.json',
    );
    const json = await cli(['run', '--app', manifestPath, '--db-url', db.url, '--json'], {
      env: baseEnv() as never,
    });
    expect(json.code).toBe(0);
    const trace = parseTrace(json.stdout);
    expect(trace.events[0]!.command!.stdoutTail).toBe('hi\n');
    const plain = await cli(['run', '--app', manifestPath, '--db-url', db.url], { env: baseEnv() as never });
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(/replay-env run: fixture: gate CONTINUE/);
    expect(plain.stdout).toMatch(/ok {3}command hello/);
  });
});

describe('run: failures and the gate', () => {
  it('a failing probe blocks the run (exit 1) and says why', async () => {
    const r = await fixtureRun('failing', (port, pidFile) => ({
      commands: [serverCommand(port, pidFile)],
      probes: [
        {
          name: 'missing-user',
          kind: 'http',
          url: `http://127.0.0.1:${port}/api/users/u-nobody/timeline`,
          expectStatus: 200,
        },
      ],
    }));
    expect(r.code).toBe(1);
    const t = r.trace!;
    expect(t.gate.decision).toBe('block');
    expect(t.gate.reasons).toEqual([
      `http probe "missing-user" failed: GET http://127.0.0.1:${r.port}/api/users/u-nobody/timeline: expected status 200, got 404`,
    ]);
    const probe = t.events.find((e) => e.name === 'missing-user')!;
    expect(probe.http!.status).toBe(404);
    expect(toPlain(probe.http!.json)).toEqual({ error: 'no such user', id: 'u-nobody' });
    expect(await survivors(readPids(r.pidFile), 1000)).toEqual([]);
  });

  it('a failing probe with allowFailure only warns (exit 0)', async () => {
    const r = await fixtureRun('allowed', (port, pidFile) => ({
      commands: [serverCommand(port, pidFile)],
      probes: [
        {
          name: 'missing-user',
          kind: 'http',
          url: `http://127.0.0.1:${port}/api/users/u-nobody/timeline`,
          expectStatus: 200,
          allowFailure: true,
        },
        { name: 'health', kind: 'http', url: `http://127.0.0.1:${port}/api/health` },
      ],
    }));
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.trace!.gate.decision).toBe('warn');
    expect(r.trace!.gate.reasons[0]).toMatch(/missing-user.*\(allowFailure\)$/);
    expect(r.trace!.events.find((e) => e.name === 'health')!.ok).toBe(true);
  });

  it('a failing command blocks and the later steps are skipped, not run', async () => {
    const marker = join(tmp.dir, 'should-not-exist');
    const r = await fixtureRun('cmdfail', () => ({
      commands: [
        { name: 'migrate', run: 'echo "relation missing" >&2; exit 3' },
        { name: 'after', run: `touch '${marker}'` },
      ],
      probes: [{ name: 'p', kind: 'command', command: `touch '${marker}'` }],
    }));
    expect(r.code).toBe(1);
    const t = r.trace!;
    expect(t.events).toHaveLength(1);
    expect(t.events[0]!.command!.exitCode).toBe(3);
    expect(t.events[0]!.command!.stderrTail).toBe('relation missing\n');
    expect(t.gate.reasons[0]).toBe('command "migrate" failed: exited with code 3');
    expect(t.gate.reasons[1]).toBe('not run after an earlier failure: command "after", probe "p"');
    expect(existsSync(marker)).toBe(false);
  });

  it('records sql probe errors, caps rows and stays read-only', async () => {
    await db.query('create sequence if not exists probe_seq');
    const port = await freePort();
    const manifest = loadManifest(
      writeManifest(
        tmp.dir,
        fixtureManifest({
          probes: [
            { name: 'capped', kind: 'sql', query: 'select id from posts', maxRows: 2 },
            { name: 'write', kind: 'sql', query: "insert into users values ('u-eve', 'Eve') returning id" },
            { name: 'side-effect', kind: 'sql', query: "select nextval('probe_seq')" },
            { name: 'bad', kind: 'sql', query: 'select nope from posts', allowFailure: true },
          ],
        }),
        `sql-${port}.json`,
      ),
    ).manifest;
    const { trace } = await runReplay({
      manifest,
      manifestPath: join(tmp.dir, 'sql.json'),
      databaseUrl: db.url,
      skipMaterialize: true,
      env: baseEnv(),
      cwd: tmp.dir,
    });
    const [capped, write, sideEffect, bad] = trace.events;
    expect(capped!.sql!.rowCount).toBe(2);
    expect(capped!.sql!.truncated).toBe(true);
    expect(capped!.sql!.ordered).toBe(false);
    expect(write!.ok).toBe(false);
    expect(write!.error).toMatch(/one read-only query/);
    expect(sideEffect!.ok).toBe(false);
    expect(sideEffect!.error).toMatch(/read-only transaction/);
    // Sequences are not transactional: had nextval run, is_called would now be true.
    expect((await db.query('select is_called from probe_seq')).rows[0]?.is_called).toBe(false);
    expect((await db.query("select 1 from users where id = 'u-eve'")).rowCount).toBe(0);
    expect(bad!.error).toMatch(/column "nope" does not exist/);
    expect(trace.gate.decision).toBe('block'); // the write probe is not allowFailure
  });
});

describe('run: secrets never reach the trace', () => {
  it('masks secrets.env values and scanner-recognised tokens in outputs and bodies', async () => {
    const secret = 's3cr3t-value-4711';
    const token = `ghp_${'A1b2C3d4E5'.repeat(4)}`;
    const r = await fixtureRun(
      'secrets',
      () => ({
        secrets: { env: ['FIXTURE_API_KEY'] },
        commands: [{ name: 'leak', run: `echo "key is $FIXTURE_API_KEY"; echo "gh ${token}" >&2` }],
        probes: [
          {
            name: 'leak-probe',
            kind: 'command',
            command: 'printf "%s" "$FIXTURE_API_KEY" | rev | rev; echo; echo password=hunter2',
          },
        ],
      }),
      { FIXTURE_API_KEY: secret },
    );
    expect(r.code).toBe(0);
    const text = readFileSync(r.traceOut, 'utf8');
    expect(text).not.toContain(secret);
    expect(text).not.toContain(token);
    expect(text).not.toContain('hunter2');
    const t = r.trace!;
    expect(t.events[0]!.command!.stdoutTail).toBe('key is ***\n');
    expect(t.events[0]!.command!.stderrTail).toBe('gh ***\n');
    expect(t.events[1]!.command!.stdoutTail).toBe('***\npassword=***\n');
  });
});

describe('run: the capsule in the trace', () => {
  it('records path, sha256, subject, graph and per-table counts without rows', async () => {
    const capsulePath = join(tmp.dir, 'small.capsule.json');
    const capsule = {
      schemaVersion: 1,
      app: 'fixture',
      adapter: 'postgres-subject-graph.v1',
      subject: { user_id: 'u-alice' },
      graph: [
        { user_id: 'u-alice', reasons: ['subject'] },
        { user_id: 'u-bob', reasons: ['follows'] },
      ],
      redaction: 'safe',
      tables: {
        users: [{ id: 'u-alice', name: 'Alice' }],
        posts: [{ id: 2, user_id: 'u-alice', body: 'row-body-secretive' }],
      },
    };
    writeFileSync(capsulePath, JSON.stringify(capsule));
    const manifestPath = writeManifest(tmp.dir, fixtureManifest(), 'capsule.json');
    const traceOut = join(tmp.dir, 'capsule.trace.json');
    const r = await cli(
      [
        'run',
        '--app',
        manifestPath,
        '--capsule',
        capsulePath,
        '--db-url',
        db.url,
        '--skip-materialize',
        '--trace-out',
        traceOut,
      ],
      { env: baseEnv() as never },
    );
    expect(r.code).toBe(0);
    const t = readTrace(traceOut);
    expect(t.capsule).toMatchObject({
      path: capsulePath,
      sha256: createHash('sha256').update(readFileSync(capsulePath)).digest('hex'),
      app: 'fixture',
      subject: { user_id: 'u-alice' },
      redaction: 'safe',
      tables: { users: 1, posts: 1 },
      graph: [
        { key: { user_id: 'u-alice' }, reasons: ['subject'] },
        { key: { user_id: 'u-bob' }, reasons: ['follows'] },
      ],
    });
    expect(readFileSync(traceOut, 'utf8')).not.toContain('row-body-secretive');
  });

  it('refuses a capsule of another app and a production-looking database (exit 2)', async () => {
    const capsulePath = join(tmp.dir, 'other.capsule.json');
    writeFileSync(
      capsulePath,
      JSON.stringify({
        schemaVersion: 1,
        app: 'other',
        adapter: 'x',
        subject: {},
        graph: [],
        redaction: 'safe',
        tables: {},
      }),
    );
    const manifestPath = writeManifest(tmp.dir, fixtureManifest(), 'other.json');
    const wrongApp = await cli(['run', '--app', manifestPath, '--capsule', capsulePath, '--db-url', db.url], {
      env: baseEnv() as never,
    });
    expect(wrongApp.code).toBe(2);
    expect(wrongApp.stderr).toMatch(/capsule is for app "other".*appId "fixture"/);
    const prod = await cli(
      ['run', '--app', manifestPath, '--db-url', 'postgres://u@db.prod.example.com/app'],
      {
        env: baseEnv() as never,
      },
    );
    expect(prod.code).toBe(2);
    expect(prod.stderr).toMatch(/production/);
  });
});

describe('run: materialization', () => {
  const capsuleText = (posts: string) => `{
  "schemaVersion": 1, "app": "fixture", "adapter": "postgres-subject-graph.v1",
  "subject": {"user_id": "u-carol"},
  "graph": [{"user_id": "u-carol", "reasons": ["subject"]}],
  "redaction": "safe",
  "tables": {
    "users": [{"id": "u-carol", "name": "Carol"}],
    "posts": [${posts}]
  }
}`;

  async function emptyTarget(): Promise<string> {
    const url = await db.create('runmat');
    await withClient(url, (c) => c.query(SCHEMA_SQL.split('insert into')[0]!));
    return url;
  }

  it('loads the capsule, records capsule-vs-database counts, then probes see the rows', async () => {
    const url = await emptyTarget();
    const capsulePath = join(tmp.dir, 'carol.capsule.json');
    writeFileSync(
      capsulePath,
      capsuleText(
        '{"id": 9007199254740995, "user_id": "u-carol", "body": "exact", "amount": 10.50, "meta": {"big": 123456789012345678901234567890}, "created_at": "2026-03-04T05:06:07+00:00"}',
      ),
    );
    const port = await freePort();
    const pidFile = join(tmp.dir, 'mat.pid');
    const manifestPath = writeManifest(
      tmp.dir,
      fixtureManifest({
        commands: [serverCommand(port, pidFile)],
        probes: [
          {
            name: 'timeline',
            kind: 'http',
            url: `http://127.0.0.1:${port}/api/users/u-carol/timeline`,
            expectStatus: 200,
          },
          { name: 'meta', kind: 'sql', query: 'select id, amount, meta from posts' },
        ],
      }),
      'mat.json',
    );
    const traceOut = join(tmp.dir, 'mat.trace.json');
    const r = await cli(
      ['run', '--app', manifestPath, '--capsule', capsulePath, '--db-url', url, '--trace-out', traceOut],
      { env: baseEnv() as never },
    );
    expect(r.code, r.stderr).toBe(0);
    const t = readTrace(traceOut);
    expect(t.materialization.status).toBe('ok');
    expect(t.materialization.strategy).toBe('copy'); // the default: the fastest exact strategy
    expect(t.materialization.counts.map((c) => [c.table, c.capsule, c.database])).toEqual([
      ['users', 1, 1],
      ['posts', 1, 1],
    ]);
    expect(toPlain(t.events.find((e) => e.name === 'timeline')!.http!.json)).toEqual({
      user: { id: 'u-carol', name: 'Carol' },
      posts: [{ id: '9007199254740995', body: 'exact', amount: '10.50' }],
    });
    const sql = t.events.find((e) => e.name === 'meta')!.sql!;
    expect(stringifyExact(sql.rows)).toBe(
      '[[9007199254740995,10.50,{"big":123456789012345678901234567890}]]',
    );
    expect(await survivors(readPids(pidFile), 500)).toEqual([]);
  });

  it('a failed materialization is recorded, blocks the run and skips commands and probes', async () => {
    const url = await emptyTarget();
    const capsulePath = join(tmp.dir, 'broken.capsule.json');
    writeFileSync(capsulePath, capsuleText('{"id": 1, "user_id": "u-nobody-in-users", "body": "orphan"}'));
    const marker = join(tmp.dir, 'mat-should-not-exist');
    const manifestPath = writeManifest(
      tmp.dir,
      fixtureManifest({ commands: [{ name: 'touch', run: `touch '${marker}'` }] }),
      'broken.json',
    );
    const traceOut = join(tmp.dir, 'broken.trace.json');
    const r = await cli(
      ['run', '--app', manifestPath, '--capsule', capsulePath, '--db-url', url, '--trace-out', traceOut],
      { env: baseEnv() as never },
    );
    expect(r.code).toBe(1);
    const t = readTrace(traceOut);
    expect(t.materialization.status).toBe('failed');
    expect(t.materialization.error).toMatch(/foreign key|posts/);
    expect(t.gate.decision).toBe('block');
    expect(t.gate.reasons[0]).toMatch(/^materialization failed: /);
    expect(t.events).toEqual([]);
    expect(existsSync(marker)).toBe(false);
    expect((await withClient(url, (c) => c.query('select count(*)::int as n from users'))).rows[0].n).toBe(0);
  });
});
