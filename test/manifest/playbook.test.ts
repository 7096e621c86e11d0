import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, REPO_ROOT } from '../helpers/cli.js';
import { COMPAT_DIR, hasCompat } from '../helpers/shared.js';

const tmp = mkdtempSync(join(tmpdir(), 'playbook-'));

describe.skipIf(!hasCompat)('playbook on the compat manifests', () => {
  it('profilescribe: real subject keys, its env var names, a generic migrate note, local subject', async () => {
    const app = join(COMPAT_DIR, 'profilescribe.json');
    // Run from the manifest's directory (its repository root): relative paths print as written.
    const r = await cli(['playbook', '--app', app], { cwd: COMPAT_DIR });
    expect(r.code).toBe(0);
    const steps = r.stdout.split('\n').filter((l) => /^\d+\. /.test(l));
    expect(steps.map((l) => l.split('.')[0])).toEqual(['1', '2', '3', '4', '5', '6']);
    expect(r.stdout).toContain(`replay-env doctor --app ${app}\n`);
    expect(r.stdout).toContain("export PROFILESCRIBE_PROD_DATABASE_URL='postgres://");
    expect(r.stdout).toContain(
      `replay-env export-postgres --app ${app} --subject 'tenant_id=<tenant_id>' --subject 'user_id=<user_id>' --since-days 180 --out 'capsules/profilescribe-<tenant_id>-<user_id>.json'`,
    );
    expect(r.stdout).toContain(
      "export PROFILESCRIBE_REPLAY_DATABASE_URL='postgres://profilescribe:profilescribe@localhost:5432/profilescribe?sslmode=disable'",
    );
    expect(r.stdout).toContain("Apply your app's migrations to the replay database");
    expect(r.stdout).toMatch(
      /replay-env materialize-postgres --app \S+ --capsule '\S+' --use-local-subject\n/,
    );
    expect(r.stdout).toContain('localSubject (tenant_id=local-dev-tenant, user_id=local-dev-user)');
    expect(r.stdout).toContain('--trace-out traces/profilescribe.trace.json');
    expect(r.stdout).toContain(
      'replay-env judge --trace traces/profilescribe.trace.json --golden golden/profilescribe',
    );
  });

  it('socialnotes: uses its migrate command and --since-days', async () => {
    const r = await cli(
      ['playbook', '--app', join(COMPAT_DIR, 'socialnotes.json'), '--since-days', '30', '--json'],
      { cwd: COMPAT_DIR },
    );
    expect(r.code).toBe(0);
    const p = JSON.parse(r.stdout);
    expect(p.env).toEqual({
      prodDatabaseUrl: 'SOCIALNOTES_PROD_DATABASE_URL',
      replayDatabaseUrl: 'SOCIALNOTES_REPLAY_DATABASE_URL',
    });
    expect(p.steps[1].commands[1]).toContain('--since-days 30');
    expect(p.steps[2].commands).toContain('echo socialnotes migrations are applied by schema.sql');
  });
});

describe('playbook', () => {
  it('uses setup and migrate commands, default env names, and no local-subject flag without localSubject', async () => {
    const app = join(tmp, 'shop.json');
    writeFileSync(
      app,
      JSON.stringify({
        appId: 'shop',
        adapter: 'postgres-subject-graph.v1',
        subjectKeys: ['account_id'],
        postgres: { tables: [{ name: 'accounts' }] },
        setup: [{ name: 'schema', run: 'npm run db:schema', cwd: 'api' }],
        migrate: { name: 'migrate', run: 'npm run db:migrate' },
        golden: { dir: 'replay/golden' },
      }),
    );
    // From the repository root (here: where the manifest is), as the playbook's commands are run.
    const r = await cli(['playbook', '--app', app], { cwd: tmp });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('APP_PROD_DATABASE_URL ');
    expect(r.stdout).toContain('export APP_REPLAY_DATABASE_URL=');
    expect(r.stdout).toContain('(cd api && npm run db:schema)\n     npm run db:migrate\n');
    expect(r.stdout).not.toContain('--use-local-subject');
    expect(r.stdout).toContain('--golden replay/golden');
  });

  it('finds config/apps/<name>.json from a bare name', async () => {
    const r = await cli(['playbook', '--app', 'pagila'], { cwd: REPO_ROOT });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("--subject 'customer_id=<customer_id>'");
    expect(r.stdout).toContain('PAGILA_REPLAY_DATABASE_URL');
  });

  it('exits 2 for a missing manifest', async () => {
    const r = await cli(['playbook', '--app', join(tmp, 'none.json')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('none.json: manifest not found');
  });
});
