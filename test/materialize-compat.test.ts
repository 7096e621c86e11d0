/**
 * The original tool's capsules (../shared/compat) materialized with each strategy, with and
 * without --use-local-subject, compared per table with expected.md's md5 reference.
 *
 * Which expected.md column applies: the capsule files already hold the original's rounded numbers,
 * so an exact load of them gives the "after materializing" md5s. The one deliberate difference is
 * background_jobs.lease_token, which the manifest's rowSql leaves out: we load the column DEFAULT
 * (the original's jsonb strategy wrote NULL, listed as a bug in CAPSULE.md), which is what
 * expected.md's "diagnostic copy" column shows. For safe + local subject there is no diagnostic
 * md5, so that row is checked by nulling lease_token inside a rolled-back transaction.
 */
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { loadManifest } from '../src/manifest/load.js';
import { materializeCapsule } from '../src/postgres/materialize/materialize-capsule.js';
import { cli } from './helpers/cli.js';
import { useTestDatabase } from './helpers/db.js';
import { COMPAT_DIR, hasCompat } from './helpers/shared.js';

const TABLES = [
  'profiles',
  'peer_links',
  'chat_messages',
  'reactions',
  'provider_connections',
  'background_jobs',
];

// expected.md: raw jsonb (= diagnostic copy for background_jobs with the lease_token default)
const RAW = {
  profiles: 'd332416dc9451296edf6ae6b805ee6ce',
  peer_links: '0bb6e3ea0fdef35bc07f6e1ce63632af',
  chat_messages: '510bde20648f5968852a5d95590660bd',
  reactions: '84de0d7a043fddcef021fd2836ff7b04',
  provider_connections: '942a9f231b636d7709a26a82455e090b',
  background_jobs: '051a5e4509232cd333097e7499c729e4',
};
const SAFE = {
  profiles: '3f2e9e74202e6a9de6ec444ba4b1c41c',
  peer_links: 'a5f4b7a124ec5d4a80ac3541eb1a6717',
  chat_messages: 'af81c1da072bde10bef5c7d2fac4cdeb',
  reactions: '9b4c0e48e41138b19e39385f74fc9cd5',
  provider_connections: '52229caac24e6694d7bdb2ca6013fdf2',
  background_jobs: '4de55ba914853f1c5ab22a333125e2f7',
};
const RAW_LOCAL = {
  profiles: '4b988e059c5095abc245c7b6fea39b3c',
  peer_links: '9928c1c2c37371d38c21a2a6c8f3bb65',
  chat_messages: 'a47e209bc3979f43f22f383cb25fe346',
  reactions: 'b820498533c94eb4a6884fc251276017',
  provider_connections: '405be6b073c114190ec0f45079af5172',
  background_jobs: 'e9ad94fe0e3a3ee8cf101960295f59b1',
};
const SAFE_LOCAL = {
  profiles: '4b57bb3a4e0f6e245bcabb917ace811d',
  peer_links: '3345e5b66532029169e3014011a00306',
  chat_messages: 'fbe5f629044b7751424e5a76cef2494d',
  reactions: '01d4fbd4a3a230e934d0905db46103b6',
  provider_connections: 'b4068d8a18ad7641bf342f86fef5bf65',
};
const SAFE_LOCAL_JOBS_WITH_NULL_LEASE = '640b8a4e00878906d6454a097edbb142';

const MD5_SETTINGS =
  "set timezone = 'UTC'; set datestyle = 'ISO, MDY'; set extra_float_digits = 1; set intervalstyle = 'postgres'; set bytea_output = 'hex';";

async function md5s(url: string): Promise<Record<string, string | null>> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(MD5_SETTINGS);
    const out: Record<string, string | null> = {};
    for (const t of TABLES) {
      const { rows } = await c.query(
        `select md5(string_agg(t::text, '|' order by t::text collate "C")) as m from ${t} t`,
      );
      out[t] = rows[0].m;
    }
    return out;
  } finally {
    await c.end();
  }
}

async function freshTarget(db: ReturnType<typeof useTestDatabase>): Promise<string> {
  const url = await db.create('mat_compat');
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const { readFileSync } = await import('node:fs');
  await c.query(readFileSync(join(COMPAT_DIR, 'schema.sql'), 'utf8'));
  await c.end();
  return url;
}

describe.skipIf(!hasCompat)('materialize the original tool’s socialnotes capsules', () => {
  const db = useTestDatabase('mat_compat');
  const manifestPath = join(COMPAT_DIR, 'socialnotes.json');
  const manifest = () => loadManifest(manifestPath).manifest;

  for (const strategy of ['jsonb', 'copy'] as const) {
    it(`raw capsule, ${strategy}: per-table md5 equals expected.md, and a second run is idempotent`, async () => {
      const url = await freshTarget(db);
      const result = await materializeCapsule({
        manifest: manifest(),
        capsulePath: join(COMPAT_DIR, 'socialnotes.raw.json'),
        url,
        strategy,
      });
      expect(result.status).toBe('ok');
      expect(result.counts).toEqual([
        { table: 'profiles', capsule: 7, database: 7, hashMatch: null },
        { table: 'peer_links', capsule: 8, database: 8, hashMatch: null },
        { table: 'chat_messages', capsule: 13, database: 13, hashMatch: null },
        { table: 'reactions', capsule: 5, database: 5, hashMatch: null },
        { table: 'provider_connections', capsule: 3, database: 3, hashMatch: null },
        { table: 'background_jobs', capsule: 3, database: 3, hashMatch: null },
      ]);
      expect(result.hashCheck).toBe('no-integrity-record');
      expect(result.reader).toBe('spooled'); // pretty-printed: the generic reader
      expect(await md5s(url)).toEqual(RAW);
      await materializeCapsule({
        manifest: manifest(),
        capsulePath: join(COMPAT_DIR, 'socialnotes.raw.json'),
        url,
        strategy,
      });
      expect(await md5s(url)).toEqual(RAW);
    });

    it(`safe capsule, ${strategy}: md5 equals expected.md`, async () => {
      const url = await freshTarget(db);
      await materializeCapsule({
        manifest: manifest(),
        capsulePath: join(COMPAT_DIR, 'socialnotes.safe.json'),
        url,
        strategy,
      });
      expect(await md5s(url)).toEqual(SAFE);
    });

    it(`raw capsule, ${strategy}, local subject: md5 equals expected.md and the rewrite is reported`, async () => {
      const url = await freshTarget(db);
      const result = await materializeCapsule({
        manifest: manifest(),
        capsulePath: join(COMPAT_DIR, 'socialnotes.raw.json'),
        url,
        strategy,
        rewrite: manifest().localSubject,
      });
      expect(result.rewritten).toMatchObject({
        from: { tenant_id: 't-acme', user_id: 'u-alice' },
        to: { tenant_id: 'local-tenant', user_id: 'local-user' },
      });
      expect(result.rewritten!.values).toBeGreaterThan(50);
      expect(await md5s(url)).toEqual(RAW_LOCAL);
    });

    it(`safe capsule, ${strategy}, local subject: md5 equals expected.md`, async () => {
      const url = await freshTarget(db);
      await materializeCapsule({
        manifest: manifest(),
        capsulePath: join(COMPAT_DIR, 'socialnotes.safe.json'),
        url,
        strategy,
        rewrite: manifest().localSubject,
      });
      const got = await md5s(url);
      const { background_jobs: _jobs, ...rest } = got;
      expect(rest).toEqual(SAFE_LOCAL);
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        await c.query(MD5_SETTINGS);
        await c.query('begin');
        const { rows: defaults } = await c.query('select distinct lease_token from background_jobs');
        expect(defaults).toEqual([{ lease_token: 'unleased' }]);
        await c.query('update background_jobs set lease_token = null');
        const { rows } = await c.query(
          `select md5(string_agg(t::text, '|' order by t::text collate "C")) as m from background_jobs t`,
        );
        expect(rows[0].m).toBe(SAFE_LOCAL_JOBS_WITH_NULL_LEASE);
        await c.query('rollback');
      } finally {
        await c.end();
      }
    });
  }

  it('CLI: prints the per-table counts and what was rewritten; --dry-run-sql needs no database', async () => {
    const url = await freshTarget(db);
    const r = await cli([
      'materialize-postgres',
      '--app',
      manifestPath,
      '--capsule',
      join(COMPAT_DIR, 'socialnotes.raw.json'),
      '--db-url',
      url,
      '--load-strategy',
      'copy',
      '--use-local-subject',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^chat_messages\s+13\s+13\s+-$/m);
    expect(r.stdout).toContain(
      'subject rewritten: tenant_id: "t-acme" → "local-tenant", user_id: "u-alice" → "local-user"',
    );

    const json = await cli([
      'materialize-postgres',
      '--app',
      manifestPath,
      '--capsule',
      join(COMPAT_DIR, 'socialnotes.raw.json'),
      '--db-url',
      url,
      '--use-local-subject',
      '--json',
      '--profile',
    ]);
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout);
    expect(parsed.counts).toHaveLength(6);
    expect(parsed.counts[0]).toEqual({ table: 'profiles', capsule: 7, database: 7, hashMatch: null });
    expect(json.stderr).toContain('materialize profile:');
    expect(json.stderr).toMatch(/load chat_messages\s+13 rows/);

    const dry = await cli([
      'materialize-postgres',
      '--app',
      manifestPath,
      '--capsule',
      join(COMPAT_DIR, 'socialnotes.raw.json'),
      '--load-strategy',
      'copy',
      '--dry-run-sql',
    ]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('copy "profiles" (');
    expect(dry.stdout).toContain(
      'delete from "profiles" t using replay_graph g where t.tenant_id = g.tenant_id',
    );
    expect(dry.stdout).toContain('-- … 10 more rows elided');
    // deletes in reverse load order, inserts in load order
    expect(dry.stdout.indexOf('delete from "background_jobs"')).toBeLessThan(
      dry.stdout.indexOf('delete from "profiles"'),
    );
    expect(dry.stdout.indexOf('copy "profiles"')).toBeLessThan(dry.stdout.indexOf('copy "background_jobs"'));
  });

  it('CLI: an unknown rewrite key and production-looking or remote URLs are refused', async () => {
    const base = [
      'materialize-postgres',
      '--app',
      manifestPath,
      '--capsule',
      join(COMPAT_DIR, 'socialnotes.raw.json'),
    ];
    const unknownKey = await cli([...base, '--db-url', db.url, '--rewrite-subject', 'account_id=x']);
    expect(unknownKey.code).toBe(2);
    expect(unknownKey.stderr).toContain('"account_id" is not a subject key');
    const prod = await cli([...base, '--db-url', 'postgres://u@db.prod.example.com/app', '--allow-remote']);
    // A refused target is bad input (exit 2), as for `run`.
    expect(prod.code).toBe(2);
    expect(prod.stderr).toContain('looks like a production database');
    const remote = await cli([...base, '--db-url', 'postgres://u@staging.example.com/app']);
    expect(remote.code).toBe(2);
    expect(remote.stderr).toContain('--allow-remote');
  });
});
