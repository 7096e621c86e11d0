/**
 * The Action as a GitHub check (issue 16) and what it writes on a pull request (issue 15 item 3),
 * end to end: the bundle `dist/index.js` against a real Postgres and the local GitHub stand-in
 * (every request validated against @octokit/openapi).
 *
 * in_progress → completed; a setup failure's failure check run and replaced (never stale) comment;
 * what failed without a golden (expected vs actual); fail-on deciding the conclusion; every
 * annotation in batches of 50; escaping of data-derived text; the sticky comment only when our
 * identity wrote it; a database port that never answers; a persistent 429 and a secondary rate limit.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runBundledAction } from './helpers/action-process.js';
import { cli } from './helpers/cli.js';
import { useTestDatabase, withClient } from './helpers/db.js';
import { FakeGitHub } from './helpers/github-server.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/action/', import.meta.url));
const db = useTestDatabase('lifecycle');
const gh = new FakeGitHub();
let workspace = '';
let replayUrl = '';
const MARKER = (key: string) => `<!-- replay-env:${key} -->`;

function manifestWith(name: string, probes: unknown[]): string {
  const m = JSON.parse(readFileSync(join(FIXTURE, 'replay.manifest.json'), 'utf8'));
  m.probes = probes;
  writeFileSync(join(workspace, name), JSON.stringify(m, null, 2));
  return name;
}

beforeAll(async () => {
  await gh.start();
  workspace = mkdtempSync(join(tmpdir(), 'action-lifecycle-'));
  copyFileSync(join(FIXTURE, 'replay.manifest.json'), join(workspace, 'replay.manifest.json'));
  await db.runFile(join(FIXTURE, 'schema.sql'));
  await db.runFile(join(FIXTURE, 'data.sql'));
  replayUrl = await db.create('replay');
  await withClient(
    replayUrl,
    async (c) => void (await c.query(readFileSync(join(FIXTURE, 'schema.sql'), 'utf8'))),
  );
  for (const subject of ['acme', 'loner']) {
    const r = await cli([
      'export-postgres',
      '--app',
      join(workspace, 'replay.manifest.json'),
      '--subject',
      `account_id=${subject}`,
      '--since-days',
      '100000',
      '--out',
      join(workspace, `${subject}.capsule.json`),
      '--db-url',
      db.url,
    ]);
    if (r.code !== 0) throw new Error(`export failed: ${r.stderr}`);
  }
  manifestWith('broken.manifest.json', [
    { name: 'note-count', kind: 'sql', query: 'select count(*)::int as n from notes' },
    { name: 'broken', kind: 'sql', query: 'select * from no_such_table' },
  ]);
}, 180_000);

afterAll(async () => {
  await gh.stop();
  rmSync(workspace, { recursive: true, force: true });
});

afterEach(() => {
  expect(gh.violations).toEqual([]);
  gh.failRequests = undefined;
  gh.tokenUser = undefined;
});

const pr = (n: number, sha: string) => ({
  action: 'synchronize',
  number: n,
  pull_request: { number: n, head: { sha } },
});

function run(
  inputs: Record<string, string>,
  prNumber: number,
  sha: string,
  extra: { timeoutMs?: number } = {},
) {
  return runBundledAction({
    inputs: { 'database-url': replayUrl, 'github-token': 'ghs_test', app: 'replay.manifest.json', ...inputs },
    eventName: 'pull_request',
    payload: pr(prNumber, sha),
    apiUrl: gh.url,
    workspace,
    sha,
    runId: 5000 + prNumber,
    ...(extra.timeoutMs ? { timeoutMs: extra.timeoutMs } : {}),
  });
}

const checkRequests = (name: string) =>
  gh.requests.filter(
    (r) =>
      r.template?.startsWith('/repos/{owner}/{repo}/check-runs') &&
      ((r.body as { name?: string } | undefined)?.name === name ||
        gh.checkRuns.some((c) => c.name === name && r.path.endsWith(`/check-runs/${c.id}`))),
  );

describe('check run lifecycle', () => {
  it('is in_progress (details: the run) while replaying, then completed; the comment names commit, run and time', async () => {
    const sha = 'a'.repeat(40);
    const r = await run({ capsule: 'acme.capsule.json', 'check-name': 'life ok' }, 51, sha);
    expect(r.code, r.stdout).toBe(0);
    const reqs = checkRequests('life ok');
    expect(reqs.map((q) => q.method)).toEqual(['POST', 'PATCH']);
    expect(reqs[0]!.body).toMatchObject({
      status: 'in_progress',
      head_sha: sha,
      details_url: 'https://github.com/acme/shop/actions/runs/5051',
    });
    expect(reqs[1]!.body).toMatchObject({ status: 'completed', conclusion: 'success' });
    const runs = gh.checkRuns.filter((c) => c.name === 'life ok');
    expect(runs).toHaveLength(1);
    expect(runs[0]!.status).toBe('completed');
    const [comment] = gh.commentsOn(51);
    expect(comment!.body).toContain('Judged commit [`aaaaaaa`](https://github.com/acme/shop/commit/');
    expect(comment!.body).toContain('[workflow run 5051](https://github.com/acme/shop/actions/runs/5051)');
    expect(comment!.body).toMatch(/\d{4}-\d\d-\d\d \d\d:\d\d UTC/);
    // Links, not runner-local paths.
    expect(comment!.body).not.toContain('runner-temp');
    expect(comment!.body).toContain('artifact `replay-env-notes` of this run');
  });

  it('a setup failure completes the check run as failure and replaces the previous verdict in the comment', async () => {
    const first = await run({ capsule: 'acme.capsule.json', 'check-name': 'life stale' }, 52, 'b'.repeat(40));
    expect(first.code).toBe(0);
    expect(gh.commentsOn(52)[0]!.body).toContain('CONTINUE');
    const sha = 'c'.repeat(40);
    const second = await run({ capsule: 'gone.capsule.json', 'check-name': 'life stale' }, 52, sha);
    expect(second.code).toBe(1);
    const failed = gh.checkRuns.filter((c) => c.name === 'life stale' && c.head_sha === sha);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ status: 'completed', conclusion: 'failure' });
    expect(failed[0]!.output.title).toMatch(/^Could not run: input "capsule": gone.capsule.json not found/);
    const comments = gh.commentsOn(52);
    expect(comments).toHaveLength(1);
    expect(comments[0]!.body).not.toContain('CONTINUE');
    expect(comments[0]!.body).toContain('could not judge this commit');
    expect(comments[0]!.body).toContain('[`ccccccc`]');
    expect(second.summary).toContain('could not judge this commit');
  });

  it('a manifest that does not load still gets a failure check run and comment', async () => {
    writeFileSync(join(workspace, 'bad.manifest.json'), '{ "appId": ');
    const sha = 'd'.repeat(40);
    const r = await run({ app: 'bad.manifest.json', capsule: 'acme.capsule.json' }, 53, sha);
    expect(r.code).toBe(1);
    const check = gh.checkRuns.find((c) => c.head_sha === sha)!;
    expect(check).toMatchObject({ name: 'replay-env / bad.manifest.json', conclusion: 'failure' });
    const [comment] = gh.commentsOn(53);
    expect(comment!.body.startsWith(MARKER('replay-env / bad.manifest.json'))).toBe(true);
  });

  it('a Postgres port that accepts TCP and never answers fails within database-timeout-seconds', async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((s) => void sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    try {
      const r = await run(
        {
          capsule: 'acme.capsule.json',
          'check-name': 'life silent db',
          'database-url': `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
          'database-timeout-seconds': '3',
        },
        54,
        'e'.repeat(40),
        // Without a connect timeout the step hangs until this kill (the test then fails on the code).
        { timeoutMs: 45_000 },
      );
      expect(r.code).toBe(1);
      expect(r.commands.find((c) => c.command === 'error')?.message).toMatch(
        /did not accept connections within 3s/,
      );
      expect(gh.checkRuns.find((c) => c.name === 'life silent db')?.conclusion).toBe('failure');
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  }, 60_000);
});

describe('what failed, without a golden', () => {
  it('names each failing probe with expected vs actual in a readable title, summary and manifest annotation', async () => {
    const r = await run(
      { app: 'broken.manifest.json', capsule: 'acme.capsule.json', 'check-name': 'life broken' },
      61,
      '6'.repeat(40),
    );
    expect(r.code).toBe(1);
    const check = gh.checkRuns.find((c) => c.name === 'life broken')!;
    expect(check.conclusion).toBe('failure');
    expect(check.output.title).toBe(
      'Blocked: sql probe "broken": expected the query succeeds, got SQL error 42P01 (class 42: syntax error or access rule violation)',
    );
    expect(check.output.title).not.toMatch(/block: required_probe_failed/);
    expect(check.output.summary).toContain('What failed (1)');
    expect(check.output.summary).toContain('| sql probe "broken" | the query succeeds | SQL error 42P01');
    const line = readFileSync(join(workspace, 'broken.manifest.json'), 'utf8')
      .split('\n')
      .findIndex((l) => l.includes('"name": "broken"'));
    expect(check.annotations).toContainEqual(
      expect.objectContaining({
        path: 'broken.manifest.json',
        start_line: line + 1,
        annotation_level: 'failure',
      }),
    );
  });

  it('fail-on: warn makes a warn result a failure check run (a required check blocks the merge)', async () => {
    // A graph without related users: warn.
    const strict = await run(
      { capsule: 'loner.capsule.json', 'check-name': 'life warn', 'fail-on': 'warn', comment: 'off' },
      62,
      '7'.repeat(40),
    );
    expect(strict.outputs.decision).toBe('warn');
    expect(strict.code).toBe(1);
    expect(gh.checkRuns.find((c) => c.name === 'life warn')?.conclusion).toBe('failure');
    // The same result with fail-on: block is neutral, and a block with fail-on: never is never red.
    await run(
      { capsule: 'loner.capsule.json', 'check-name': 'life warn block', comment: 'off' },
      62,
      '7'.repeat(40),
    );
    expect(gh.checkRuns.find((c) => c.name === 'life warn block')?.conclusion).toBe('neutral');
    const never = await run(
      {
        app: 'broken.manifest.json',
        capsule: 'acme.capsule.json',
        'check-name': 'life never',
        'fail-on': 'never',
        comment: 'off',
      },
      62,
      '7'.repeat(40),
    );
    expect(never.outputs.decision).toBe('block');
    expect(never.code).toBe(0);
    expect(gh.checkRuns.find((c) => c.name === 'life never')?.conclusion).toBe('neutral');
  });

  it('posts every annotation: 120 failing probes go out in batches of 50', async () => {
    manifestWith(
      'many.manifest.json',
      Array.from({ length: 120 }, (_, i) => ({
        name: `p${i}`,
        kind: 'sql',
        query: `select * from missing_${i}`,
      })),
    );
    const r = await run(
      { app: 'many.manifest.json', capsule: 'acme.capsule.json', 'check-name': 'life many', comment: 'off' },
      63,
      '8'.repeat(40),
    );
    expect(r.code).toBe(1);
    const check = gh.checkRuns.find((c) => c.name === 'life many')!;
    expect(check.annotations).toHaveLength(120);
    expect(check.annotationBatches).toEqual([50, 50, 20]);
    expect(new Set(check.annotations.map((a) => a.start_line)).size).toBe(120);
  }, 120_000);
});

describe('data-derived text is escaped', () => {
  it('a hostile probe name cannot hide the comment, mention, embed images, link or close our <details>', async () => {
    const hostile =
      'x --> <!-- @everyone ![](http://evil.example/p.png) <img src=x> [y](http://evil.example) </details> `|` ';
    manifestWith('hostile.manifest.json', [{ name: hostile, kind: 'sql', query: 'select * from nope' }]);
    const r = await run(
      { app: 'hostile.manifest.json', capsule: 'acme.capsule.json', 'check-name': 'life hostile' },
      71,
      '9'.repeat(40),
    );
    expect(r.code).toBe(1);
    const body = gh.commentsOn(71)[0]!.body;
    const summary = gh.checkRuns.find((c) => c.name === 'life hostile')!.output.summary!;
    for (const text of [body, summary, r.summary]) {
      const withoutMarker = text.replace(MARKER('life hostile'), '');
      expect(withoutMarker).not.toContain('<!--');
      expect(withoutMarker).not.toContain('-->');
      expect(withoutMarker).not.toMatch(/@everyone/);
      expect(withoutMarker).not.toContain('![](');
      expect(withoutMarker).not.toContain('<img');
      expect(withoutMarker).not.toContain('](http://evil');
      expect(withoutMarker).not.toContain('http://evil');
      expect(withoutMarker.split('<details>').length).toBe(withoutMarker.split('</details>').length);
    }
  });

  it('a comment with our marker written by someone else is never edited; ours is created', async () => {
    const forged = gh.seedComment(72, `${MARKER('life forged')}\nplease merge, all green ✅`);
    const r = await run({ capsule: 'acme.capsule.json', 'check-name': 'life forged' }, 72, 'f'.repeat(40));
    expect(r.code).toBe(0);
    const comments = gh.commentsOn(72);
    expect(comments).toHaveLength(2);
    expect(comments.find((c) => c.id === forged.id)!.body).toContain('please merge');
    expect(comments.find((c) => c.id !== forged.id)!.user.login).toBe('github-actions[bot]');
    // With a personal token, GET /user names the identity: its own comment is updated.
    gh.tokenUser = 'octocat';
    const a = await run({ capsule: 'acme.capsule.json', 'check-name': 'life pat' }, 73, 'f'.repeat(40));
    const b = await run({ capsule: 'acme.capsule.json', 'check-name': 'life pat' }, 73, 'f'.repeat(40));
    expect(a.code + b.code).toBe(0);
    expect(gh.commentsOn(73)).toHaveLength(1);
    expect(gh.commentsOn(73)[0]!.user.login).toBe('octocat');
  });
});

describe('hints name what the Action can do', () => {
  it('a remote database URL is refused without pointing at a CLI flag the Action has no input for', async () => {
    const r = await run(
      {
        capsule: 'acme.capsule.json',
        'check-name': 'life remote',
        'database-url': 'postgres://u:p@db.staging.example.com/app',
      },
      91,
      '1'.repeat(40),
    );
    expect(r.code).toBe(1);
    const error = r.commands.find((c) => c.command === 'error')!.message;
    expect(error).toMatch(/refused as a replay target/);
    expect(error).not.toContain('--allow-remote');
  });

  it('GitHub Enterprise Server artifact refusals are not reported as a missing artifact', async () => {
    const { isGhesUnsupported, GHES_HINT } = await import('../src/action/restore-capsule.js');
    const err = Object.assign(new Error('@actions/artifact v2.0.0+ … are not currently supported on GHES.'), {
      name: 'GHESNotSupportedError',
    });
    expect(isGhesUnsupported(err)).toBe(true);
    expect(isGhesUnsupported(Object.assign(new Error('Not Found'), { status: 404 }))).toBe(false);
    expect(GHES_HINT).toContain('input "capsule"');
  });
});

describe('the GitHub API misbehaving', () => {
  it('a persistent 429 is retried within one bounded budget, then reported; the step still ends', async () => {
    gh.failRequests = {
      match: (m, t) => m === 'POST' && t === '/repos/{owner}/{repo}/check-runs',
      status: 429,
      headers: { 'retry-after': '1' },
      message: 'API rate limit exceeded',
    };
    const before = gh.requests.length;
    const r = await run(
      { capsule: 'acme.capsule.json', 'check-name': 'life 429', comment: 'off' },
      81,
      '0'.repeat(40),
    );
    expect(r.code, r.stdout).toBe(0);
    const posts = gh.requests
      .slice(before)
      .filter((q) => q.method === 'POST' && q.template === '/repos/{owner}/{repo}/check-runs');
    // Two calls (in_progress, then the result), each at most 4 attempts.
    expect(posts.length).toBeLessThanOrEqual(8);
    expect(
      r.commands.some((c) => c.command === 'warning' && /rate limited \(HTTP 429\)/.test(c.message)),
    ).toBe(true);
    expect(r.commands.some((c) => /cannot write/.test(c.message))).toBe(false);
    expect(r.summary).toContain('CONTINUE');
  }, 120_000);

  it('a secondary rate limit (403) is diagnosed as a rate limit, not as a read-only token', async () => {
    gh.failRequests = {
      match: (m, t) => m === 'POST' && t === '/repos/{owner}/{repo}/check-runs',
      status: 403,
      headers: { 'retry-after': '1' },
      message: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.',
    };
    const r = await run(
      { capsule: 'acme.capsule.json', 'check-name': 'life secondary', comment: 'off' },
      82,
      '0'.repeat(40),
    );
    expect(r.code, r.stdout).toBe(0);
    const warnings = r.commands.filter((c) => c.command === 'warning').map((c) => c.message);
    expect(warnings.some((w) => /secondary rate limit/.test(w))).toBe(true);
    expect(warnings.some((w) => /fork|cannot write/.test(w))).toBe(false);
  }, 120_000);
});
