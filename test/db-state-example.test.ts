/**
 * The database-state judge on the example app: ada's capsule replayed into a staging-like
 * database that also holds another tenant's rows. With the planted bug on
 * (SOCIALAPP_PLANTED_BUG=cross-tenant-write: reading the timeline stamps the other tenant's
 * users), the run blocks, naming the table and the count of rows outside the subject's graph —
 * although no probe response changes; with the bug off (the fixed app) it continues.
 */
import { cpSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadManifest } from '../src/manifest/load.js';
import { exportCapsule } from '../src/postgres/export/export-capsule.js';
import { cli, REPO_ROOT } from './helpers/cli.js';
import { useTestDatabase, withClient } from './helpers/db.js';
import { exampleAppManifest } from './helpers/example-app.js';

const db = useTestDatabase('db_state_example');
const EXAMPLE = join(REPO_ROOT, 'examples/socialapp');
const dir = mkdtempSync(join(tmpdir(), 'replay-db-state-'));

/** A checkout of the example app with its manifest on a free port (no browser probe). */
async function checkout(): Promise<string> {
  cpSync(EXAMPLE, join(dir, 'app'), { recursive: true });
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules')); // the app's `pg`
  const m = await exampleAppManifest({ repoPath: join(dir, 'app'), goldenDir: join(dir, 'golden') });
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m, null, 2));
  return join(dir, 'manifest.json');
}

/** A staging-like target: the example schema and seed (both tenants), then the capsule on top. */
async function stagingTarget(name: string): Promise<string> {
  const url = await db.create(name);
  await withClient(url, async (c) => {
    await c.query(readFileSync(join(EXAMPLE, 'schema.sql'), 'utf8'));
    await c.query(readFileSync(join(EXAMPLE, 'seed.sql'), 'utf8'));
  });
  return url;
}

describe('the example app with a planted cross-tenant write', () => {
  let capsule: string;
  let manifest: string;
  beforeAll(async () => {
    await db.runFile(join(EXAMPLE, 'schema.sql'));
    await db.runFile(join(EXAMPLE, 'seed.sql'));
    const { manifest: m } = loadManifest(join(REPO_ROOT, 'config/apps/socialapp.json'));
    capsule = join(dir, 'ada.capsule.json');
    await exportCapsule({
      manifest: m,
      subject: { tenant_id: 'acme', user_id: 'ada' },
      databaseUrl: db.url,
      out: capsule,
    });
    manifest = await checkout();
  }, 60_000);

  async function runAndJudge(bug: boolean, n: number) {
    const trace = join(dir, `run-${n}.trace.json`);
    const r = await cli(
      [
        'run',
        '--app',
        manifest,
        '--capsule',
        capsule,
        '--db-url',
        await stagingTarget(`dse_${n}`),
        '--trace-out',
        trace,
      ],
      { env: bug ? { SOCIALAPP_PLANTED_BUG: 'cross-tenant-write' } : {} },
    );
    // `run` decides like `judge`: the bug blocks (exit 1) already here.
    expect(r.code, r.stderr + r.stdout).toBe(bug ? 1 : 0);
    if (bug) expect(r.stdout + r.stderr).toMatch(/block: write_outside_subject/);
    const judged = await cli(['judge', '--trace', trace, '--app', manifest, '--format', 'json']);
    return { trace, code: judged.code, judgement: JSON.parse(judged.stdout) };
  }

  it('blocks with the bug, naming the table and the rows outside the graph; continues without', {
    timeout: 180_000,
  }, async () => {
    const bad = await runAndJudge(true, 1);
    expect(bad.judgement.decision).toBe('block');
    expect(bad.code).toBe(1);
    expect(bad.judgement.facts).toMatchObject({
      write_outside_subject: true,
      rows_written_outside_subject: 2,
    });
    const d = bad.judgement.judges.find((j: { id: string }) => j.id === 'database-state');
    expect(d.verdict).toBe('fail');
    expect(d.summary).toBe("the run wrote 2 row(s) outside the subject's graph (users)");
    expect(d.evidence[0]).toMatch(
      /^write outside the subject's graph: users: 2 row\(s\) \(\d+ → \d+ rows, 2 written\)$/,
    );
    // The probes saw nothing: every probe passed.
    expect(bad.judgement.facts.required_probe_failed).toBe(false);
    const md = await cli(['judge', '--trace', bad.trace, '--app', manifest, '--format', 'markdown']);
    expect(md.stdout).toContain('| `users` | unchanged | ⛔');
    expect(md.stdout).toContain("(**2 row(s) outside the subject's graph**)");
    // The trace's database state and the comment name tables and counts, never the other
    // tenant's values (the sql probe's own rows are the probe's record, not the judge's).
    const state = JSON.stringify(JSON.parse(readFileSync(bad.trace, 'utf8')).databaseState);
    expect(state).toContain('"table":"users"');
    for (const text of [state, md.stdout])
      for (const v of ['globex', 'eve@globex', 'Eve Noether']) expect(text).not.toContain(v);

    const fixed = await runAndJudge(false, 2);
    expect(fixed.judgement.facts.write_outside_subject).toBe(false);
    expect(fixed.judgement.judges.find((j: { id: string }) => j.id === 'database-state').verdict).toBe(
      'pass',
    );
    expect(fixed.judgement.decision).not.toBe('block');
    expect(fixed.code).toBe(0);
  });
});
