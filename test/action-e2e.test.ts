/**
 * The bundled Action end to end: `node dist/index.js` as a child process, with INPUT_* and
 * GITHUB_* variables and an event payload, against a real Postgres (the replay database) and the
 * local fake GitHub API, whose every request is validated against @octokit/openapi.
 *
 * capsule (exported by the CLI from a source database) → materialize → probes → trace → judge →
 * check run + sticky comment + job summary + outputs, for pull_request, schedule,
 * workflow_dispatch and workflow_run payloads.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runBundledAction } from './helpers/action-process.js';
import { cli } from './helpers/cli.js';
import { useTestDatabase } from './helpers/db.js';
import { buildZip, FakeGitHub } from './helpers/github-server.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/action/', import.meta.url));
const PR_SHA = '1'.repeat(40);
const db = useTestDatabase('action');
const gh = new FakeGitHub();
let workspace = '';
let replayUrl = '';

function manifestWith(patch: (m: Record<string, unknown>) => void, name: string): string {
  const m = JSON.parse(readFileSync(join(FIXTURE, 'replay.manifest.json'), 'utf8'));
  patch(m);
  writeFileSync(join(workspace, name), JSON.stringify(m, null, 2));
  return name;
}

async function exportCapsule(subject: string, out: string): Promise<void> {
  const r = await cli([
    'export-postgres',
    '--app',
    join(workspace, 'replay.manifest.json'),
    '--subject',
    `account_id=${subject}`,
    '--since-days',
    '100000',
    '--out',
    join(workspace, out),
    '--db-url',
    db.url,
  ]);
  if (r.code !== 0) throw new Error(`export failed (${r.code}): ${r.stderr}`);
}

beforeAll(async () => {
  await gh.start();
  workspace = mkdtempSync(join(tmpdir(), 'action-ws-'));
  copyFileSync(join(FIXTURE, 'replay.manifest.json'), join(workspace, 'replay.manifest.json'));
  await db.runFile(join(FIXTURE, 'schema.sql'));
  await db.runFile(join(FIXTURE, 'data.sql'));
  replayUrl = await db.create('replay');
  const { withClient } = await import('./helpers/db.js');
  await withClient(
    replayUrl,
    async (c) => void (await c.query(readFileSync(join(FIXTURE, 'schema.sql'), 'utf8'))),
  );
  await exportCapsule('acme', 'acme.capsule.json');
  await exportCapsule('loner', 'loner.capsule.json');
  // A failing probe blocks.
  manifestWith((m) => {
    (m.probes as unknown[]).push({ name: 'broken', kind: 'sql', query: 'select * from no_such_table' });
  }, 'broken.manifest.json');
  writeFileSync(
    join(workspace, 'scenarios.yaml'),
    [
      'version: 1',
      'scenarios:',
      ...['acme-a', 'acme-b', 'loner-c'].map((id) =>
        [
          `  - id: ${id}`,
          `    title: scenario ${id}`,
          '    risk: high',
          `    capsule: ${id.startsWith('loner') ? 'loner' : 'acme'}.capsule.json`,
          '    maxDurationSeconds: 300',
        ].join('\n'),
      ),
    ].join('\n'),
  );
}, 180_000);

afterAll(async () => {
  await gh.stop();
  rmSync(workspace, { recursive: true, force: true });
});

afterEach(() => {
  expect(gh.violations).toEqual([]);
  gh.forbidWrites = false;
});

const prPayload = (n: number) => ({
  action: 'synchronize',
  number: n,
  pull_request: { number: n, head: { sha: PR_SHA } },
});

function run(
  inputs: Record<string, string>,
  eventName = 'pull_request',
  payload: unknown = prPayload(7),
  sha?: string,
  env?: Record<string, string>,
) {
  return runBundledAction({
    inputs: { 'database-url': replayUrl, 'github-token': 'ghs_test', app: 'replay.manifest.json', ...inputs },
    eventName,
    payload,
    apiUrl: gh.url,
    workspace,
    sha,
    env,
  });
}

describe('pull_request', () => {
  it('continue: success check run, outputs, summary, one sticky comment updated on re-run', async () => {
    const first = await run({ capsule: 'acme.capsule.json' });
    expect(first.code, first.stdout + first.stderr).toBe(0);
    expect(first.outputs.decision).toBe('continue');
    const judgement = JSON.parse(readFileSync(first.outputs['judgement-path']!, 'utf8'));
    expect(judgement.decision).toBe('continue');
    expect(JSON.parse(readFileSync(first.outputs['trace-path']!, 'utf8')).materialization.status).toBe('ok');
    const check = gh.checkRuns.find((c) => String(c.id) === first.outputs['check-run-id'])!;
    expect(check.name).toBe('replay-env / notes / default');
    expect(check.head_sha).toBe(PR_SHA);
    expect(check.conclusion).toBe('success');
    expect(first.summary).toContain('CONTINUE');
    expect(first.outputs['comment-url']).toMatch(/pull\/7#issuecomment-\d+/);

    const second = await run({ capsule: 'acme.capsule.json' });
    expect(second.code).toBe(0);
    const ours = gh
      .commentsOn(7)
      .filter((c) => c.body.includes('<!-- replay-env:replay-env / replay.manifest.json -->'));
    expect(ours).toHaveLength(1);
    expect(second.outputs['comment-url']).toBe(first.outputs['comment-url']);
    expect(
      gh.requests.filter(
        (r) => r.method === 'PATCH' && r.template?.endsWith('/issues/comments/{comment_id}'),
      ),
    ).toHaveLength(1);
  });

  it('warn: a graph without related users is neutral and does not fail the step', async () => {
    const r = await run({ capsule: 'loner.capsule.json', 'check-name': 'replay loner' });
    expect(r.code, r.stdout).toBe(0);
    expect(r.outputs.decision).toBe('warn');
    expect(gh.checkRuns.find((c) => c.name === 'replay loner')?.conclusion).toBe('neutral');
    // fail-on: warn fails the step on the same result.
    const strict = await run({
      capsule: 'loner.capsule.json',
      'check-name': 'replay loner',
      'fail-on': 'warn',
    });
    expect(strict.code).toBe(1);
    expect(strict.commands.some((c) => c.command === 'error' && /decision: warn/.test(c.message))).toBe(true);
  });

  it('block: a failing probe is a failure check run and fails the step (unless fail-on: never)', async () => {
    const r = await run({
      app: 'broken.manifest.json',
      capsule: 'acme.capsule.json',
      'check-name': 'replay broken',
    });
    expect(r.code).toBe(1);
    expect(r.outputs.decision).toBe('block');
    expect(gh.checkRuns.find((c) => c.name === 'replay broken')?.conclusion).toBe('failure');
    const lenient = await run({
      app: 'broken.manifest.json',
      capsule: 'acme.capsule.json',
      'check-name': 'replay broken',
      'fail-on': 'never',
    });
    expect(lenient.code).toBe(0);
  });

  it('a read-only token (fork) degrades to the job summary with a warning, never crashes', async () => {
    gh.forbidWrites = true;
    const before = gh.checkRuns.length;
    const r = await run(
      { capsule: 'acme.capsule.json', 'check-name': 'replay fork' },
      'pull_request',
      prPayload(9),
    );
    expect(r.code, r.stdout).toBe(0);
    expect(r.outputs.decision).toBe('continue');
    expect(r.summary).toContain('CONTINUE');
    expect(r.commands.some((c) => c.command === 'warning' && /refused/.test(c.message))).toBe(true);
    expect(gh.checkRuns.length).toBe(before);
    expect(gh.commentsOn(9)).toHaveLength(0);
    expect(r.outputs['check-run-id']).toBe('');
  });
});

describe('golden traces', () => {
  it('a result that differs from the golden blocks, with annotations on the golden file', async () => {
    // Its own empty database: the probe counts every note, so earlier replays must not be there.
    const fresh = await db.create('golden');
    const base = await run({
      capsule: 'acme.capsule.json',
      'database-url': fresh,
      'create-schema': 'true',
      'check-name': 'golden base',
      comment: 'off',
    });
    expect(base.code, base.stdout).toBe(0);
    const bless = await cli([
      'bless',
      '--trace',
      base.outputs['trace-path']!,
      '--golden',
      join(workspace, 'golden'),
      '--force',
    ]);
    expect(bless.code, bless.stderr).toBe(0);
    const other = await db.create('golden');
    // The same capsule (a golden is bound to its capsule), replayed where another account has a
    // note too: the probe's count differs from the golden's.
    const { withClient } = await import('./helpers/db.js');
    await withClient(other, async (c) => {
      await c.query(readFileSync(join(FIXTURE, 'schema.sql'), 'utf8'));
      await c.query("insert into accounts values (900, 'stranger', 'S', null)");
      await c.query("insert into notes values (901, 'stranger', 'x', now())");
    });
    const r = await run({
      'database-url': other,
      capsule: 'acme.capsule.json',
      'golden-dir': 'golden',
      'check-name': 'golden check',
      comment: 'off',
    });
    expect(r.code, r.stdout).toBe(1);
    expect(r.outputs.decision).toBe('block');
    const check = gh.checkRuns.find((c) => c.name === 'golden check')!;
    expect(check.conclusion).toBe('failure');
    expect(check.annotations.length).toBeGreaterThan(0);
    expect(check.annotations[0]).toMatchObject({
      path: 'golden/default.golden.json',
      annotation_level: 'failure',
    });
    expect(check.output.summary).toContain('note-count');
  });
});

describe('other events', () => {
  it('schedule: a check run on the head SHA and the summary, no comment', async () => {
    const sha = '2'.repeat(40);
    const comments = gh.comments.length;
    const r = await run(
      { capsule: 'acme.capsule.json', 'check-name': 'nightly' },
      'schedule',
      { schedule: '0 3 * * *' },
      sha,
    );
    expect(r.code, r.stdout).toBe(0);
    expect(gh.checkRuns.find((c) => c.name === 'nightly')?.head_sha).toBe(sha);
    expect(gh.comments.length).toBe(comments);
    expect(r.outputs['comment-url']).toBe('');
    expect(r.summary).toContain('CONTINUE');
  });

  it('push: the check run goes on the pushed commit, no comment', async () => {
    const after = '5'.repeat(40);
    const comments = gh.comments.length;
    const r = await run({ capsule: 'acme.capsule.json', 'check-name': 'on push' }, 'push', {
      ref: 'refs/heads/main',
      after,
    });
    expect(r.code, r.stdout).toBe(0);
    expect(gh.checkRuns.find((c) => c.name === 'on push')?.head_sha).toBe(after);
    expect(gh.comments.length).toBe(comments);
  });

  it('workflow_dispatch: runs the selected scenario', async () => {
    const sha = '3'.repeat(40);
    const r = await run(
      { scenario: 'loner-c', 'scenarios-file': 'scenarios.yaml' },
      'workflow_dispatch',
      { inputs: { scenario: 'loner-c' }, ref: 'refs/heads/main' },
      sha,
    );
    expect(r.code, r.stdout).toBe(0);
    const check = gh.checkRuns.find((c) => c.name === 'replay-env / notes / loner-c')!;
    expect(check.head_sha).toBe(sha);
    expect(check.conclusion).toBe('neutral');
  });

  it('workflow_run (fork-safe): capsule artifact from the triggering run, PR found by head SHA', async () => {
    const sha = '4'.repeat(40);
    gh.pulls.push({ number: 21, headSha: sha, headLabel: 'forker:fix', state: 'open' });
    gh.addArtifact({
      owner: 'acme',
      repo: 'shop',
      runId: 777,
      name: 'replay-capsule',
      zip: buildZip({ 'acme.capsule.json': readFileSync(join(workspace, 'acme.capsule.json')) }),
    });
    const r = await run({ 'capsule-artifact': 'replay-capsule', 'check-name': 'replay pr' }, 'workflow_run', {
      action: 'completed',
      workflow_run: {
        id: 777,
        head_sha: sha,
        head_branch: 'fix',
        pull_requests: [],
        head_repository: { owner: { login: 'forker' } },
      },
    });
    expect(r.code, r.stdout).toBe(0);
    expect(gh.checkRuns.find((c) => c.name === 'replay pr')?.head_sha).toBe(sha);
    expect(gh.commentsOn(21)).toHaveLength(1);
    expect(r.outputs['comment-url']).toContain('/pull/21#');
  });
});

describe('the runner artifact service (ACTIONS_RESULTS_URL, twirp)', () => {
  it('restores a capsule artifact of this run and uploads trace + judgement as an artifact', async () => {
    gh.runArtifacts.push({
      id: 9001,
      name: 'this-run-capsule',
      zip: buildZip({
        'nested/acme.capsule.json.gz': gzipSync(readFileSync(join(workspace, 'acme.capsule.json'))),
      }),
      finalized: true,
    });
    const env = { ACTIONS_RUNTIME_TOKEN: FakeGitHub.runtimeToken(), ACTIONS_RESULTS_URL: `${gh.url}/` };
    const r = await run(
      {
        'capsule-artifact': 'this-run-capsule',
        'check-name': 'replay this run',
        'trace-artifact': 'evidence',
      },
      'pull_request',
      prPayload(31),
      undefined,
      env,
    );
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toMatch(
      /Capsule: artifact "this-run-capsule" \(id 9001\) from this workflow run .*\(gzip\)/,
    );
    const uploaded = gh.runArtifacts.find((a) => a.name === 'evidence');
    expect(uploaded?.finalized).toBe(true);
    // The zip lists its entries' names in clear text.
    expect(uploaded!.zip.subarray(0, 4).readUInt32LE(0)).toBe(0x04034b50);
    expect(uploaded!.zip.toString('latin1')).toContain('notes/notes.judgement.json');
    expect(uploaded!.zip.toString('latin1')).toContain('notes/notes.trace.json');
  });

  it('without the runner service, the upload is skipped with a warning and the step still reports', async () => {
    const r = await run(
      { capsule: 'acme.capsule.json', 'check-name': 'no runtime' },
      'pull_request',
      prPayload(32),
    );
    expect(r.code).toBe(0);
    expect(r.commands.some((c) => c.command === 'warning' && /Not uploading artifact/.test(c.message))).toBe(
      true,
    );
    expect(gh.checkRuns.some((c) => c.name === 'no runtime')).toBe(true);
  });
});

describe('scenarios at scale', () => {
  it('a scenario that cannot run becomes a block result of its own; the others still run', async () => {
    writeFileSync(
      join(workspace, 'scenarios-broken.yaml'),
      [
        'version: 1',
        'scenarios:',
        '  - {id: fine, title: fine, risk: low, capsule: acme.capsule.json, maxDurationSeconds: 300}',
        '  - {id: gone, title: gone, risk: low, capsule: expired.capsule.json, maxDurationSeconds: 300}',
      ].join('\n'),
    );
    const r = await run(
      { scenarios: 'all', 'scenarios-file': 'scenarios-broken.yaml' },
      'pull_request',
      prPayload(41),
    );
    expect(r.code).toBe(1);
    expect(r.outputs.decision).toBe('block');
    expect(gh.checkRuns.find((c) => c.name === 'replay-env / notes / fine')?.conclusion).toBe('success');
    const gone = gh.checkRuns.find((c) => c.name === 'replay-env / notes / gone')!;
    expect(gone.conclusion).toBe('failure');
    expect(gone.output.title).toMatch(/could not run: input "capsule": expired.capsule.json not found/);
    const comments = gh.commentsOn(41);
    expect(comments).toHaveLength(1);
    expect(comments[0]!.body).toContain('2 scenario(s): 1 block, 0 warn, 1 continue');
  });

  it('shards split the registry deterministically and each shard reports per scenario', async () => {
    const one = await run(
      { scenarios: 'all', shard: '1/2', 'scenarios-file': 'scenarios.yaml', comment: 'off' },
      'schedule',
      {},
    );
    const two = await run(
      { scenarios: 'all', shard: '2/2', 'scenarios-file': 'scenarios.yaml', comment: 'off' },
      'schedule',
      {},
    );
    expect(one.code, one.stdout).toBe(0);
    expect(two.code, two.stdout).toBe(0);
    const paths1 = one.outputs['judgement-path']!.split('\n');
    const paths2 = two.outputs['judgement-path']!.split('\n');
    const ids = (paths: string[]) => paths.map((p) => JSON.parse(readFileSync(p, 'utf8')).scenario);
    expect(ids(paths1)).toEqual(['acme-a', 'loner-c']);
    expect(ids(paths2)).toEqual(['acme-b']);
    expect(one.outputs.decision).toBe('warn');
    expect(two.outputs.decision).toBe('continue');
  });
});

describe('Postgres', () => {
  it('an empty service database is not given the capsule schema unless the input create-schema asks for it', async () => {
    const empty = await db.create('empty_refused');
    const r = await run({
      capsule: 'acme.capsule.json',
      'database-url': empty,
      'check-name': 'zero setup refused',
      comment: 'off',
    });
    expect(r.code, r.stdout).not.toBe(0);
    const error = r.commands.find((c) => c.command === 'error')!.message;
    expect(error).toContain('create-schema: true');
    const { withClient } = await import('./helpers/db.js');
    const rows = await withClient(empty, (c) => c.query("select to_regclass('notes') as t"));
    expect(rows.rows[0].t).toBeNull();
  });

  it('an empty service database gets the schema from the capsule with create-schema: true; catalog checks wait for it', async () => {
    const empty = await db.create('empty');
    const r = await run({
      capsule: 'acme.capsule.json',
      'database-url': empty,
      'check-name': 'zero setup',
      'create-schema': 'true',
      comment: 'off',
    });
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toContain("created from the capsule's schema section");
    expect(r.stdout).toContain('catalog checks skipped');
    expect(r.outputs.decision).toBe('continue');
    const { withClient } = await import('./helpers/db.js');
    const rows = await withClient(empty, (c) => c.query('select count(*)::int as n from notes'));
    expect(rows.rows[0].n).toBe(3);
  });

  it('a missing Postgres service gives the services: block to add', async () => {
    const r = await run({
      capsule: 'acme.capsule.json',
      'database-url': 'postgres://postgres:postgres@127.0.0.1:1/postgres',
      'database-timeout-seconds': '2',
    });
    expect(r.code).toBe(1);
    const error = r.commands.find((c) => c.command === 'error')!.message;
    expect(error).toMatch(/did not accept connections within 2s/);
    expect(error).toContain('services:');
    expect(error).toContain('image: postgres:16');
    expect(error).toContain('- 1:5432');
  });

  it('refuses a production-looking database URL', async () => {
    const r = await run({
      capsule: 'acme.capsule.json',
      'database-url': 'postgres://u:p@db.prod.example.com/app',
    });
    expect(r.code).toBe(1);
    expect(r.commands.find((c) => c.command === 'error')?.message).toMatch(/refused as a replay target/);
  });
});
