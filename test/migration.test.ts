/**
 * Migration replay: the manifest's `migrate` runs after the capsule is loaded into the schema it
 * was exported with. A migration that breaks on the capsule's real data fails the run (exit 1,
 * materialization failed with the migration's output, the judge blocks); the fixed one passes.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadManifest } from '../src/manifest/load.js';
import { exportCapsule } from '../src/postgres/export/export-capsule.js';
import { zeroSetupHooks } from '../src/postgres/export/zero-setup.js';
import { cli, REPO_ROOT } from './helpers/cli.js';
import { useTestDatabase, withClient } from './helpers/db.js';

const db = useTestDatabase('migration');
const EXAMPLE = join(REPO_ROOT, 'examples/socialapp');
const dir = mkdtempSync(join(tmpdir(), 'replay-migration-'));
const capsule = join(dir, 'ada.json');

// The new column every user must have: rows exported before it existed hold no value.
const BROKEN =
  'alter table users add column locale text;\nalter table users alter column locale set not null;\n';
const FIXED =
  "alter table users add column locale text;\nupdate users set locale = 'en' where locale is null;\nalter table users alter column locale set not null;\n";

function manifestWith(migration: string, name: string): string {
  const base = JSON.parse(readFileSync(join(REPO_ROOT, 'config/apps/socialapp.json'), 'utf8'));
  const sql = join(dir, `${name}.sql`);
  writeFileSync(sql, migration);
  const m = {
    ...base,
    $schema: undefined,
    repoPath: EXAMPLE,
    golden: { dir: join(dir, 'golden') },
    migrate: { name: 'migrate', run: `node migrate.mjs ${sql}`, timeoutSeconds: 60 },
    commands: [],
    probes: [
      {
        name: 'locales',
        kind: 'sql',
        query: 'select user_id, locale from users order by user_id',
      },
    ],
  };
  const path = join(dir, `${name}.manifest.json`);
  writeFileSync(path, JSON.stringify(m, null, 2));
  return path;
}

describe('migration replay', () => {
  beforeAll(async () => {
    await db.runFile(join(EXAMPLE, 'schema.sql'));
    await db.runFile(join(EXAMPLE, 'seed.sql'));
    const { manifest } = loadManifest(join(REPO_ROOT, 'config/apps/socialapp.json'));
    const hooks = zeroSetupHooks(manifest);
    await exportCapsule({
      manifest,
      subject: { tenant_id: 'acme', user_id: 'ada' },
      databaseUrl: db.url,
      out: capsule,
      extraRows: hooks.extraRows,
      extraSections: hooks.extraSections,
    });
  });

  it('catches a migration that breaks on the capsule’s real data, and the judge blocks', async () => {
    const target = await db.create('mig_broken');
    const tracePath = join(dir, 'broken.trace.json');
    const manifest = manifestWith(BROKEN, 'broken');
    const r = await cli([
      'run',
      '--app',
      manifest,
      '--capsule',
      capsule,
      '--db-url',
      target,
      '--create-schema',
      '--trace-out',
      tracePath,
    ]);
    expect(r.code, r.stderr).toBe(1);
    const trace = JSON.parse(readFileSync(tracePath, 'utf8'));
    expect(trace.materialization.status).toBe('failed');
    expect(trace.materialization.error).toMatch(/migration "migrate" failed on the replayed data/);
    expect(trace.materialization.migration.command).toContain('migrate.mjs');
    expect(trace.materialization.migration.exitCode).toBe(1);
    expect(trace.materialization.migration.outputTail).toMatch(
      /column "locale" of relation "users" contains null values/,
    );
    expect(trace.events.map((e: { kind: string }) => e.kind)).toEqual(['migrate']);
    expect(trace.gate.decision).toBe('block');

    const judged = await cli(['judge', '--trace', tracePath, '--app', manifest, '--format', 'json']);
    expect(judged.code).toBe(1);
    const judgement = JSON.parse(judged.stdout);
    expect(judgement.decision).toBe('block');
    expect(judgement.judges.find((j: { id: string }) => j.id === 'materialization-integrity').verdict).toBe(
      'fail',
    );
    // The data stayed as loaded (the migration rolled back): the schema it was exported with.
    const cols = await withClient(target, (c) =>
      c.query(
        "select 1 from information_schema.columns where table_name = 'users' and column_name = 'locale'",
      ),
    );
    expect(cols.rowCount).toBe(0);
  });

  it('passes once the migration is fixed', async () => {
    const target = await db.create('mig_fixed');
    const tracePath = join(dir, 'fixed.trace.json');
    const r = await cli([
      'run',
      '--app',
      manifestWith(FIXED, 'fixed'),
      '--capsule',
      capsule,
      '--db-url',
      target,
      '--create-schema',
      '--trace-out',
      tracePath,
    ]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const trace = JSON.parse(readFileSync(tracePath, 'utf8'));
    expect(trace.materialization.status).toBe('ok');
    expect(trace.materialization.migration).toBeUndefined();
    const probe = trace.events.find((e: { name: string }) => e.name === 'locales');
    expect(probe.sql.rows).toEqual([
      ['ada', 'en'],
      ['bob', 'en'],
      ['cy', 'en'],
      ['dee', 'en'],
    ]);
  });

  it('on the embedded default, runs the manifest setup (the app migrations) when the capsule has no schema', {
    timeout: 120_000,
  }, async () => {
    const noSchema = join(dir, 'ada-no-schema.json');
    const exported = await cli([
      'export-postgres',
      '--app',
      join(REPO_ROOT, 'config/apps/socialapp.json'),
      '--subject',
      'tenant_id=acme',
      '--subject',
      'user_id=ada',
      '--out',
      noSchema,
      '--db-url',
      db.url,
      '--no-schema',
      '--json',
    ]);
    expect(exported.code, exported.stderr).toBe(0);
    expect(JSON.parse(readFileSync(noSchema, 'utf8')).schema).toBeUndefined();
    const tracePath = join(dir, 'setup.trace.json');
    const r = await cli(
      ['run', '--app', manifestWith(FIXED, 'setup-fixed'), '--capsule', noSchema, '--trace-out', tracePath],
      {
        env: { SOCIALAPP_REPLAY_DATABASE_URL: '' },
      },
    );
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stderr).toMatch(/using a throwaway embedded PostgreSQL/);
    const trace = JSON.parse(readFileSync(tracePath, 'utf8'));
    expect(trace.events.map((e: { kind: string; name: string }) => `${e.kind}:${e.name}`)).toEqual([
      'setup:schema',
      'migrate:migrate',
      'probe-sql:locales',
    ]);
    expect(trace.materialization.status).toBe('ok');
  });
});
