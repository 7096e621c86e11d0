/**
 * Base-vs-head with no golden at all: the example app's base checkout is replayed twice on one
 * capsule (noise and timing spread learned), each head checkout once on the same capsule, and head
 * is judged against base with the same judges and risk classes. A change that changes nothing
 * passes; one that breaks the customer's private timeline blocks.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadManifest } from '../src/manifest/load.js';
import { exportCapsule } from '../src/postgres/export/export-capsule.js';
import { zeroSetupHooks } from '../src/postgres/export/zero-setup.js';
import { cli, REPO_ROOT } from './helpers/cli.js';
import { useTestDatabase } from './helpers/db.js';
import { exampleAppManifest } from './helpers/example-app.js';

const db = useTestDatabase('base_vs_head');
const EXAMPLE = join(REPO_ROOT, 'examples/socialapp');
const dir = mkdtempSync(join(tmpdir(), 'replay-base-head-'));
const noGolden = join(dir, 'no-golden');

/** A checkout of the example app (optionally changed) with its manifest. */
async function checkout(name: string, change?: (server: string) => string): Promise<string> {
  const root = join(dir, name);
  cpSync(EXAMPLE, join(root, 'app'), { recursive: true });
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(root, 'node_modules')); // the app's `pg`
  if (change) {
    const server = join(root, 'app', 'server.mjs');
    writeFileSync(server, change(readFileSync(server, 'utf8')));
  }
  const m = await exampleAppManifest({ repoPath: join(root, 'app'), goldenDir: noGolden });
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, 'manifest.json'), JSON.stringify(m, null, 2));
  return join(root, 'manifest.json');
}

let n = 0;
async function run(manifest: string, capsule: string): Promise<string> {
  const target = await db.create(`bh_${++n}`);
  const trace = join(dir, `run-${n}.trace.json`);
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
    trace,
  ]);
  expect(r.code, r.stderr + r.stdout).toBe(0);
  return trace;
}

describe('base-vs-head replay, no golden', () => {
  let capsule: string;
  beforeAll(async () => {
    await db.runFile(join(EXAMPLE, 'schema.sql'));
    await db.runFile(join(EXAMPLE, 'seed.sql'));
    const { manifest } = loadManifest(join(REPO_ROOT, 'config/apps/socialapp.json'));
    const hooks = zeroSetupHooks(manifest);
    capsule = join(dir, 'ada.capsule.json');
    await exportCapsule({
      manifest,
      subject: { tenant_id: 'acme', user_id: 'ada' },
      databaseUrl: db.url,
      out: capsule,
      extraRows: hooks.extraRows,
      extraSections: hooks.extraSections,
    });
  }, 60_000);

  it('passes a change that changes nothing and blocks one that breaks the customer’s page', {
    timeout: 180_000,
  }, async () => {
    const base = await checkout('base');
    const base1 = await run(base, capsule);
    const base2 = await run(base, capsule);
    const same = await run(await checkout('head-same'), capsule);
    const broken = await run(
      await checkout('head-broken', (s) =>
        s.replace('(m.sender_user_id = $2 or m.recipient_user_id = $2)', 'm.sender_user_id = $2'),
      ),
      capsule,
    );
    const judge = (head: string, format: string, manifest = base) =>
      cli([
        'judge',
        '--trace',
        head,
        '--app',
        manifest,
        '--baseline-trace',
        base1,
        '--baseline-trace',
        base2,
        '--format',
        format,
      ]);

    // Without the base branch there is nothing to compare with: no golden exists.
    const alone = JSON.parse(
      (await cli(['judge', '--trace', same, '--app', base, '--format', 'json'])).stdout,
    );
    expect(alone.judges.find((j: { id: string }) => j.id === 'golden-match').verdict).toBe('skip');

    const ok = await judge(same, 'json');
    const okJ = JSON.parse(ok.stdout);
    expect(okJ.baseline).toMatchObject({
      mode: 'base-branch',
      description: expect.stringMatching(/^against the base branch on capsule [0-9a-f]{12}$/),
    });
    const gm = okJ.judges.find((j: { id: string }) => j.id === 'golden-match');
    expect(gm.verdict, gm.summary).toBe('pass');
    expect(gm.summary).toMatch(/match the base branch$/);
    expect(gm.evidence.join('\n')).toMatch(/base branch run twice: \d+ noise path\(s\) learned/);
    expect(okJ.decision).not.toBe('block');
    expect(ok.code).toBe(0);
    expect(okJ.timing.length).toBeGreaterThan(1);
    expect(okJ.timing.every((r: { spreadMs?: number }) => r.spreadMs !== undefined)).toBe(true);

    const bad = await judge(broken, 'json');
    const badJ = JSON.parse(bad.stdout);
    expect(badJ.decision).toBe('block');
    expect(bad.code).toBe(1);
    expect(badJ.reasons.join('\n')).toMatch(/differs from the golden trace|differs/);
    expect(
      badJ.differences.some(
        (d: { probe: string; risk: string }) => d.probe === 'private-timeline' && d.risk === 'fail',
      ),
    ).toBe(true);
    const text = (await judge(broken, 'text')).stdout;
    expect(text).toContain('judged against the base branch on capsule');
    expect((await judge(broken, 'markdown')).stdout).toMatch(
      /Judged against the base branch on capsule [0-9a-f]{12}\./,
    );
  });

  it('refuses base traces of another capsule than each other', { timeout: 60_000 }, async () => {
    const t = join(dir, 'x.trace.json');
    const other = JSON.parse(readFileSync(join(dir, 'run-1.trace.json'), 'utf8'));
    other.capsule.sha256 = 'c'.repeat(64);
    other.capsule.contentSha256 = 'd'.repeat(64);
    writeFileSync(t, JSON.stringify(other));
    const r = await cli([
      'judge',
      '--trace',
      join(dir, 'run-3.trace.json'),
      '--baseline-trace',
      join(dir, 'run-1.trace.json'),
      '--baseline-trace',
      t,
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/the two base runs must replay the same capsule/);
  });
});
