/**
 * Opt-in measurement (REPLAY_TIMING_RUNS=20): N identical runs of the example app on this machine,
 * their durations written to test/fixtures/timing/socialapp-runs.json. timing.test.ts judges
 * those recorded durations; this file only records them (performance is measured, not asserted).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadManifest } from '../src/manifest/load.js';
import { exportCapsule } from '../src/postgres/export/export-capsule.js';
import { zeroSetupHooks } from '../src/postgres/export/zero-setup.js';
import { cli, REPO_ROOT } from './helpers/cli.js';
import { useTestDatabase } from './helpers/db.js';
import { exampleAppManifest } from './helpers/example-app.js';

const RUNS = Number(process.env.REPLAY_TIMING_RUNS ?? 0);
const db = useTestDatabase('timing_measure');
const EXAMPLE = join(REPO_ROOT, 'examples/socialapp');
const dir = mkdtempSync(join(tmpdir(), 'replay-timing-'));

describe.skipIf(RUNS === 0)('timing measurement (REPLAY_TIMING_RUNS)', () => {
  let manifest: string;
  let capsule: string;
  beforeAll(async () => {
    await db.runFile(join(EXAMPLE, 'schema.sql'));
    await db.runFile(join(EXAMPLE, 'seed.sql'));
    const m = await exampleAppManifest({ repoPath: EXAMPLE });
    manifest = join(dir, 'socialapp.json');
    writeFileSync(manifest, JSON.stringify(m));
    const loaded = loadManifest(join(REPO_ROOT, 'config/apps/socialapp.json')).manifest;
    const hooks = zeroSetupHooks(loaded);
    capsule = join(dir, 'ada.json');
    await exportCapsule({
      manifest: loaded,
      subject: { tenant_id: 'acme', user_id: 'ada' },
      databaseUrl: db.url,
      out: capsule,
      extraRows: hooks.extraRows,
      extraSections: hooks.extraSections,
    });
  }, 60_000);

  it(`records ${RUNS} identical runs`, { timeout: RUNS * 30_000 }, async () => {
    const runs: { totalMs: number; probes: Record<string, number> }[] = [];
    for (let i = 0; i < RUNS; i++) {
      const target = await db.create(`tm_${i}`);
      const trace = join(dir, `run-${i}.json`);
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
      expect(r.code, r.stderr).toBe(0);
      const t = JSON.parse(readFileSync(trace, 'utf8'));
      const probes: Record<string, number> = {};
      for (const e of t.events) if (e.kind.startsWith('probe-')) probes[e.name] = e.durationMs;
      runs.push({ totalMs: t.durationMs, probes });
    }
    writeFileSync(
      join(REPO_ROOT, 'test/fixtures/timing/socialapp-runs.json'),
      `${JSON.stringify({ recordedAt: new Date().toISOString(), machine: 'shared 2-core helper machine, under load', runs }, null, 1)}\n`,
    );
  });
});
