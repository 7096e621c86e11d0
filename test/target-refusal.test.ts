/**
 * Production-looking targets are refused everywhere a database is written — `materialize-postgres`,
 * `run` (by --db-url, by the manifest's replay-URL variable, through an empty --db-url, through
 * libpq's PGHOST), the run stage itself, and the Action's database-url input — before any
 * connection, with the refusal named, exit 2 (the Action: a failed step), and the URL's password
 * never printed.
 *
 * The hosts would fail differently if a connection were attempted (an unresolvable name, a managed
 * cloud name, nothing listening), and one target is a real database on the test server whose name
 * looks like production: were it not refused, it would be written (its checksum is compared).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReplayError } from '../src/errors.js';
import { loadManifest } from '../src/manifest/load.js';
import { runReplay } from '../src/run/replay.js';
import { runBundledAction } from './helpers/action-process.js';
import { writeTestCapsule } from './helpers/capsule-file.js';
import { cli } from './helpers/cli.js';
import { adminUrl, urlForDatabase, withClient } from './helpers/db.js';
import { databaseChecksum } from './helpers/db-checksum.js';
import { FakeGitHub } from './helpers/github-server.js';

const tag = randomBytes(4).toString('hex');
const PASSWORD = `S3cret-${tag}-pw`;
const ROLE = `refusal_${tag}`;
const PROD_DB = `prod_${tag}`;
const ENV_NAME = 'REFUSAL_REPLAY_DATABASE_URL';

/** Production-looking URLs, each with the planted password. */
const URLS = {
  'prod host': `postgres://u:${PASSWORD}@db.prod.example.com/app`,
  'managed cloud host': `postgres://u:${PASSWORD}@x.abc.eu-west-1.rds.amazonaws.com/app`,
  'production database on localhost': `postgres://u:${PASSWORD}@localhost/production`,
};
let realProdUrl = '';

const gh = new FakeGitHub();
let dir = '';
let manifestPath = '';
let capsulePath = '';

beforeAll(async () => {
  await gh.start();
  dir = mkdtempSync(join(tmpdir(), 'target-refusal-'));
  // A real database whose name looks like production, with the app's tables and one row.
  await withClient(adminUrl(), async (c) => {
    await c.query(`create role "${ROLE}" login password '${PASSWORD}'`);
    await c.query(`create database "${PROD_DB}" owner "${ROLE}"`);
  });
  const u = new URL(urlForDatabase(adminUrl(), PROD_DB));
  u.username = ROLE;
  u.password = PASSWORD;
  realProdUrl = u.toString();
  await withClient(realProdUrl, (c) =>
    c.query(`create table accounts (id bigint primary key, account_id text not null, name text);
             insert into accounts values (1, 'a1', 'production row');`),
  );
  manifestPath = join(dir, 'app.json');
  writeFileSync(
    manifestPath,
    JSON.stringify({
      appId: 'refusal',
      adapter: 'postgres-subject-graph.v1',
      subjectKeys: ['account_id'],
      postgres: {
        replayDatabaseUrlEnv: ENV_NAME,
        tables: [{ name: 'accounts', deletePredicate: 't.account_id = g.account_id' }],
      },
      probes: [{ name: 'count', kind: 'sql', query: 'select count(*) from accounts' }],
    }),
  );
  capsulePath = join(dir, 'a1.capsule.json');
  writeTestCapsule(capsulePath, {
    app: 'refusal',
    subject: { account_id: 'a1' },
    graph: [{ account_id: 'a1' }],
    tables: { accounts: [{ id: 1, account_id: 'a1', name: 'replayed row' }] },
  });
}, 60_000);

afterAll(async () => {
  await gh.stop();
  await withClient(adminUrl(), async (c) => {
    await c.query(`drop database if exists "${PROD_DB}" with (force)`);
    await c.query(`drop role if exists "${ROLE}"`);
  });
  rmSync(dir, { recursive: true, force: true });
});

function expectRefused(r: { code: number; stdout: string; stderr: string }, what: string): void {
  const out = r.stdout + r.stderr;
  expect(r.code, `${what}: ${out}`).toBe(2);
  expect(out, what).toMatch(/refusing to (materialize|replay) into .*: it looks like a production database/);
  expect(out, what).not.toContain(PASSWORD);
  // No connection was attempted: none of the errors a connection would have produced.
  expect(out, what).not.toMatch(/cannot connect|host not found|connection refused|authentication failed/);
  expect(out, what).not.toMatch(/\n\s+at /); // no stack trace
}

const commands = {
  'materialize-postgres': () => ['materialize-postgres', '--app', manifestPath, '--capsule', capsulePath],
  run: () => ['run', '--app', manifestPath, '--capsule', capsulePath, '--trace-out', join(dir, 't.json')],
};

describe('the CLI refuses production-looking targets before connecting (exit 2)', () => {
  for (const [command, args] of Object.entries(commands)) {
    it(`${command}: by --db-url, by the env var, through an empty --db-url, through PGHOST`, async () => {
      const before = await databaseChecksum(realProdUrl);
      for (const [what, url] of Object.entries({ ...URLS, 'real prod_ database': realProdUrl })) {
        expectRefused(await cli([...args(), '--db-url', url]), `${command} --db-url (${what})`);
        // --allow-remote never unlocks a production-looking target.
        expectRefused(await cli([...args(), '--db-url', url, '--allow-remote']), `${command} --allow-remote`);
        expectRefused(
          await cli(args(), { env: { [ENV_NAME]: url } }),
          `${command} via ${ENV_NAME} (${what})`,
        );
        // An empty --db-url used to skip the check while the env var's URL was still used.
        expectRefused(
          await cli([...args(), '--db-url', ''], { env: { [ENV_NAME]: url } }),
          `${command} --db-url '' with ${ENV_NAME} (${what})`,
        );
      }
      // A URL without a host connects to PGHOST (libpq): that host is what is judged. (The
      // password as a query parameter, which node-postgres accepts, is masked like any other.)
      expectRefused(
        await cli([...args(), '--db-url', `postgres:///app?password=${PASSWORD}`], {
          env: { PGHOST: 'db.prod.example.com' },
        }),
        `${command} with PGHOST`,
      );
      expect(await databaseChecksum(realProdUrl)).toEqual(before);
    }, 60_000);
  }

  it('the run stage itself refuses (defence in depth for any new front door)', async () => {
    const { manifest } = loadManifest(manifestPath);
    const before = await databaseChecksum(realProdUrl);
    for (const url of [...Object.values(URLS), realProdUrl]) {
      const err = await runReplay({
        manifest,
        manifestPath,
        capsulePath,
        databaseUrl: url,
        env: {},
        cwd: dir,
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ReplayError);
      expect((err as ReplayError).exitCode).toBe(2);
      expect((err as Error).message).toMatch(/refusing to replay into .*production database/);
      expect((err as Error).message).not.toContain(PASSWORD);
    }
    expect(await databaseChecksum(realProdUrl)).toEqual(before);
  });
});

describe('the Action refuses its database-url input', () => {
  it('fails the step before waiting for Postgres, naming the refusal, never the password', async () => {
    const before = await databaseChecksum(realProdUrl);
    for (const [what, url] of Object.entries({ ...URLS, 'real prod_ database': realProdUrl })) {
      const r = await runBundledAction({
        inputs: { app: manifestPath, capsule: capsulePath, 'database-url': url, 'github-token': 'ghs_x' },
        eventName: 'push',
        payload: { ref: 'refs/heads/main', after: 'b'.repeat(40) },
        apiUrl: gh.url,
        workspace: dir,
      });
      const out = r.stdout + r.stderr;
      // A failed step (core.setFailed: exit 1, the runner's convention for every failure).
      expect(r.code, `${what}: ${out}`).not.toBe(0);
      const error = r.commands.find((c) => c.command === 'error')?.message ?? '';
      expect(error, what).toMatch(
        /input "database-url" .* is refused as a replay target: .*prod|managed-cloud/,
      );
      expect(out, what).not.toContain(PASSWORD);
      expect(out, what).not.toContain('Waiting for Postgres');
    }
    // What GitHub gets is the refusal as a failed check run (and comment): never the password.
    const writes = gh.requests.filter((q) => q.method !== 'GET');
    expect(writes.length).toBeGreaterThan(0);
    for (const q of writes) expect(q.path).toMatch(/\/check-runs|\/comments/);
    expect(JSON.stringify(writes)).not.toContain(PASSWORD);
    expect(gh.checkRuns.every((c) => c.conclusion === 'failure')).toBe(true);
    expect(await databaseChecksum(realProdUrl)).toEqual(before);
  }, 60_000);
});
