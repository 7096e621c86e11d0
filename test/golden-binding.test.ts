/**
 * Goldens bound to the capsule they judged, with the example app: a re-export of unchanged data
 * still compares; a re-export after production changed, or another customer's capsule, is
 * reported as "capsule differs from the golden's" — one finding, a warn, not a list of app
 * regressions — and one re-bless fixes it. A scenario that pins a capsule blocks another.
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

const db = useTestDatabase('golden_binding');
const EXAMPLE = join(REPO_ROOT, 'examples/socialapp');
const dir = mkdtempSync(join(tmpdir(), 'replay-golden-binding-'));
const golden = join(dir, 'golden');

async function writeManifest(): Promise<string> {
  const m = await exampleAppManifest({ repoPath: EXAMPLE, goldenDir: golden });
  const path = join(dir, 'socialapp.json');
  writeFileSync(path, JSON.stringify(m, null, 2));
  return path;
}

async function exportSubject(name: string, subject: Record<string, string>): Promise<string> {
  const { manifest } = loadManifest(join(REPO_ROOT, 'config/apps/socialapp.json'));
  const hooks = zeroSetupHooks(manifest);
  const out = join(dir, `${name}.capsule.json`);
  await exportCapsule({
    manifest,
    subject,
    databaseUrl: db.url,
    out,
    extraRows: hooks.extraRows,
    extraSections: hooks.extraSections,
  });
  return out;
}

let runs = 0;
async function run(manifest: string, capsule: string): Promise<string> {
  const target = await db.create(`gb_${++runs}`);
  const trace = join(dir, `run-${runs}.trace.json`);
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

async function judge(manifest: string, trace: string, extra: string[] = []) {
  const r = await cli(['judge', '--trace', trace, '--app', manifest, '--format', 'json', ...extra]);
  const j = JSON.parse(r.stdout);
  const text = await cli(['judge', '--trace', trace, '--app', manifest, ...extra]);
  return {
    code: r.code,
    j,
    text: text.stdout,
    gm: j.judges.find((x: { id: string }) => x.id === 'golden-match'),
  };
}

describe('goldens bound to their capsule (example app)', () => {
  let manifest: string;
  const capsules: Record<string, string> = {};
  beforeAll(async () => {
    await db.runFile(join(EXAMPLE, 'schema.sql'));
    await db.runFile(join(EXAMPLE, 'seed.sql'));
    manifest = await writeManifest();
    capsules.ada = await exportSubject('ada', { tenant_id: 'acme', user_id: 'ada' });
    capsules.adaAgain = await exportSubject('ada-again', { tenant_id: 'acme', user_id: 'ada' });
    capsules.eve = await exportSubject('eve', { tenant_id: 'globex', user_id: 'eve' });
  }, 60_000);

  it('compares like with like, and says plainly when the capsule differs', { timeout: 180_000 }, async () => {
    const blessedTrace = await run(manifest, capsules.ada!);
    const blessed = await cli(['bless', '--trace', blessedTrace, '--app', manifest, '--force']);
    expect(blessed.code, blessed.stderr).toBe(0);
    const g = JSON.parse(readFileSync(join(golden, 'default.golden.json'), 'utf8'));
    expect(g.provenance.capsule).toMatchObject({
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      contentSha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      subjectFingerprint: expect.stringMatching(/^[0-9a-f]{16}$/),
      exportedAt: expect.any(String),
    });

    // Re-export of unchanged data: another file (another export time), the same data: compared.
    const same = await judge(manifest, await run(manifest, capsules.adaAgain!));
    expect(same.gm.verdict).toBe('pass');
    expect(same.j.facts.golden_capsule_differs).toBe(false);

    // Production changed (one new message to ada), then the same customer is re-exported.
    await db.query(
      "insert into messages (id, tenant_id, sender_user_id, recipient_user_id, body, created_at) values (99, 'acme', 'bob', 'ada', 'One more thing.', now())",
    );
    const changed = await exportSubject('ada-changed', { tenant_id: 'acme', user_id: 'ada' });
    const changedTrace = await run(manifest, changed);
    const differs = await judge(manifest, changedTrace);
    expect(differs.gm.verdict).toBe('warn');
    expect(differs.gm.summary).toMatch(
      /^capsule differs from the golden's \(the same subject, re-exported with different data\): not compared; re-bless after re-export with `replay-env bless /,
    );
    expect(differs.j.differences).toEqual([]);
    expect(differs.j.facts.golden_mismatch).toBe(false);
    expect(differs.j.decision).toBe('warn');
    expect(differs.code).toBe(0);
    expect(differs.text).toContain("capsule differs from the golden's");

    // Another customer against ada's golden: a different subject, not 7 "removed" regressions.
    const eve = await judge(manifest, await run(manifest, capsules.eve!));
    expect(eve.gm.summary).toMatch(/^capsule differs from the golden's \(a different subject\)/);
    expect(eve.j.differences).toEqual([]);

    // One re-bless after the re-export, and the gate compares again.
    const rebless = await cli(['bless', '--trace', changedTrace, '--app', manifest, '--force']);
    expect(rebless.code).toBe(0);
    expect(rebless.stderr).toMatch(
      /note: re-bound to capsule [0-9a-f]{12} \(exported .*\), was [0-9a-f]{12}/,
    );
    const after = await judge(manifest, changedTrace);
    expect(after.gm.verdict).toBe('pass');

    // A scenario that pins the capsule blocks a trace of another capsule.
    const sha = JSON.parse(readFileSync(changedTrace, 'utf8')).capsule.sha256;
    const loop = join(dir, 'loop');
    const { cpSync } = await import('node:fs');
    cpSync(join(REPO_ROOT, 'loops/user-history-replay'), loop, { recursive: true });
    writeFileSync(
      join(loop, 'scenarios.yaml'),
      `version: 1\nscenarios:\n  - id: ada-timeline\n    title: ada's timeline\n    risk: high\n    capsule: ${changed}\n    capsuleSha256: ${sha}\n    golden: ${join(golden, 'default.golden.json')}\n    maxDurationSeconds: 300\n`,
    );
    const pinnedOk = await judge(manifest, changedTrace, ['--loop', loop, '--scenario', 'ada-timeline']);
    expect(pinnedOk.j.facts.scenario_capsule_mismatch).toBe(false);
    const pinned = await judge(manifest, await run(manifest, capsules.adaAgain!), [
      '--loop',
      loop,
      '--scenario',
      'ada-timeline',
    ]);
    expect(pinned.j.decision).toBe('block');
    expect(pinned.j.reasons.join('\n')).toMatch(/another capsule than the one the scenario pins/);
    expect(pinned.gm.evidence.join('\n')).toMatch(
      /scenario ada-timeline pins capsule [0-9a-f]{12}, but the trace replayed [0-9a-f]{12}/,
    );
  });
});
