/**
 * Issue #18's "done when", end to end: a planted bug in the example app (reading the timeline
 * stamps the users of every OTHER tenant: SOCIALAPP_PLANTED_BUG=cross-tenant-write, no response
 * shows it) becomes a scenario with `replay-env scenario add` — exported from "production" (safe,
 * age-encrypted) into capsules/, replayed, judged, registered in a registry it creates. The
 * nightly path — the bundled Action over the registry (`scenarios: all`, a 2-shard matrix), the
 * shards' judgements collected as download-artifact lays them out, then `mode: aggregate` —
 * blocks on it, the database-state judge naming the table and the count of rows outside the
 * subject's graph. Fixed (the bug off), replayed and blessed, the nightly continues.
 *
 * The replay targets are staging-like (both tenants' rows, then the capsule on top): in an empty
 * database there is no other tenant to write to.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadScenarios } from '../src/judge/loop.js';
import { runBundledAction } from './helpers/action-process.js';
import { cli, REPO_ROOT } from './helpers/cli.js';
import { useTestDatabase, withClient } from './helpers/db.js';
import { exampleAppManifest } from './helpers/example-app.js';
import { FakeGitHub } from './helpers/github-server.js';

const db = useTestDatabase('scenario_nightly');
const gh = new FakeGitHub();
const EXAMPLE = join(REPO_ROOT, 'examples/socialapp');
const REGISTRY = 'loops/user-history-replay/scenarios.yaml';
const ID = 'ada-cross-tenant-write';
const BUG = { SOCIALAPP_PLANTED_BUG: 'cross-tenant-write' };

let repo = '';
let keyFile = '';
let recipient = '';

/** The user's repository: the example app and its manifest (own port, no browser probe). */
async function userRepo(): Promise<void> {
  repo = mkdtempSync(join(tmpdir(), 'replay-nightly-'));
  cpSync(EXAMPLE, join(repo, 'app'), { recursive: true });
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(repo, 'node_modules')); // the app's `pg`
  const m = await exampleAppManifest({ repoPath: 'app', goldenDir: 'golden' });
  writeFileSync(join(repo, 'replay.manifest.json'), JSON.stringify(m, null, 2));
  writeFileSync(join(repo, '.gitignore'), 'capsules/**\n.replay/\n');
  keyFile = join(`${repo}.key`);
  const kg = await cli(['keygen', '--out', keyFile, '--json']);
  expect(kg.code, kg.stderr).toBe(0);
  recipient = JSON.parse(kg.stdout).recipient;
}

let targets = 0;
/** A staging-like replay target: the example schema and both tenants' rows. */
async function stagingTarget(): Promise<string> {
  const url = await db.create(`nightly_target_${++targets}`);
  await withClient(url, async (c) => {
    await c.query(readFileSync(join(EXAMPLE, 'schema.sql'), 'utf8'));
    await c.query(readFileSync(join(EXAMPLE, 'seed.sql'), 'utf8'));
  });
  return url;
}

const cliEnv = (bug: boolean) => ({
  CI: 'false',
  REPLAY_CAPSULE_KEY: undefined,
  REPLAY_CAPSULE_KEY_FILE: keyFile,
  ...(bug ? BUG : { SOCIALAPP_PLANTED_BUG: undefined }),
});

/** The nightly: every scenario over a 2-shard matrix, then one aggregate check. */
async function nightly(bug: boolean, name: string) {
  const judgements = mkdtempSync(join(tmpdir(), 'nightly-judgements-'));
  for (const shard of [1, 2]) {
    const r = await runBundledAction({
      inputs: {
        app: 'replay.manifest.json',
        scenarios: 'all',
        shard: `${shard}/2`,
        'database-url': await stagingTarget(),
        'capsule-key': readFileSync(keyFile, 'utf8'),
        'github-token': 'ghs_test',
        comment: 'off',
        'fail-on': 'never',
        'trace-artifact': 'none',
      },
      eventName: 'schedule',
      payload: {},
      apiUrl: gh.url,
      workspace: repo,
      env: bug ? BUG : {},
    });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    // actions/download-artifact with a pattern: one directory per shard's artifact.
    for (const p of (r.outputs['judgement-path'] ?? '').split('\n').filter(Boolean)) {
      mkdirSync(join(judgements, `shard-${shard}`), { recursive: true });
      cpSync(p, join(judgements, `shard-${shard}`, basename(p)));
    }
  }
  const agg = await runBundledAction({
    inputs: {
      mode: 'aggregate',
      'judgements-dir': judgements,
      'check-name': name,
      'github-token': 'ghs_test',
      'fail-on': 'block',
    },
    eventName: 'schedule',
    payload: {},
    apiUrl: gh.url,
    workspace: repo,
  });
  const check = gh.checkRuns.find((c) => c.name === name)!;
  return { agg, check };
}

beforeAll(async () => {
  await gh.start();
  await db.runFile(join(EXAMPLE, 'schema.sql'));
  await db.runFile(join(EXAMPLE, 'seed.sql'));
  await userRepo();
}, 60_000);
afterAll(async () => {
  await gh.stop();
});
afterEach(() => {
  expect(gh.violations).toEqual([]);
});

describe('an escaped bug becomes a scenario the nightly blocks on', () => {
  it('scenario add → nightly blocks naming the table and rows outside the graph → fixed, blessed → nightly continues', {
    timeout: 600_000,
  }, async () => {
    // 1. The bug report becomes a scenario (the registry does not exist yet: add creates it).
    const added = await cli(
      [
        'scenario',
        'add',
        ID,
        '--app',
        'replay.manifest.json',
        '--title',
        "opening the timeline never writes another tenant's rows",
        '--risk',
        'critical',
        '--bug',
        'https://github.com/acme/socialapp/issues/42',
        '--subject',
        'tenant_id=acme',
        '--subject',
        'user_id=ada',
        '--source-db-url',
        db.url,
        '--encrypt-to',
        recipient,
        '--db-url',
        await stagingTarget(),
        '--json',
      ],
      { cwd: repo, env: cliEnv(true) },
    );
    expect(added.code, added.stderr).toBe(0);
    const doc = JSON.parse(added.stdout);
    // The replay shows the bug: a block, not blessed, the next step says fix → replay → bless.
    expect(doc).toMatchObject({ registryCreated: true, decision: 'block', golden: { blessed: false } });
    expect(doc.reasons.join('\n')).toMatch(/outside the subject's graph/);
    expect(doc.next[0]).toMatch(/^fix the bug, replay and bless the right behaviour: replay-env run /);
    const [entry] = loadScenarios(join(repo, REGISTRY));
    expect(entry).toMatchObject({
      id: ID,
      bug: 'https://github.com/acme/socialapp/issues/42',
      capsule: { path: `capsules/${ID}.json.gz.age` },
      golden: `golden/${ID}.golden.json`,
    });

    // 2. The nightly with the bug still in the app: blocks, naming the table and the count.
    const broken = await nightly(true, 'regression (bug)');
    expect(broken.agg.code, broken.agg.stdout).toBe(1);
    expect(broken.agg.outputs.decision).toBe('block');
    expect(broken.check.conclusion).toBe('failure');
    const text = `${broken.check.output.summary}\n${broken.agg.summary}`;
    expect(text).toContain(ID);
    expect(text).toContain(
      "| Database state | ❌ fail | the run wrote 2 row(s) outside the subject's graph (users) |",
    );
    expect(text).toContain(
      "| `users` | unchanged | ⛔ 3 → 3 rows, 2 written (**2 row(s) outside the subject's graph**) |",
    );
    for (const v of ['globex', 'Eve Noether']) expect(text).not.toContain(v);

    // 3. Fixed (the bug off): replay the stored capsule, bless the right behaviour.
    const trace = join(repo, '.replay/fixed.trace.json');
    const run = await cli(
      [
        'run',
        '--app',
        'replay.manifest.json',
        '--capsule',
        entry!.capsule && 'path' in entry!.capsule ? entry!.capsule.path : '',
        '--db-url',
        await stagingTarget(),
        '--trace-out',
        trace,
      ],
      { cwd: repo, env: cliEnv(false) },
    );
    expect(run.code, run.stderr + run.stdout).toBe(0);
    const bless = await cli(['bless', '--trace', trace, '--golden', 'golden', '--scenario', ID], {
      cwd: repo,
      env: { ...cliEnv(false), CI: 'false' },
    });
    expect(bless.code, bless.stderr).toBe(0);

    // 4. The nightly on the fixed app continues.
    const fixed = await nightly(false, 'regression (fixed)');
    expect(fixed.agg.code, fixed.agg.stdout).toBe(0);
    expect(fixed.agg.outputs.decision).toBe('continue');
    expect(fixed.check.conclusion).not.toBe('failure');
  });
});
