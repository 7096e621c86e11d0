/**
 * The Action's GitHub-facing reporting modules against the local fake GitHub API (every request
 * validated against @octokit/openapi): check runs with batched annotations, the sticky comment,
 * truncation, the PR lookup for workflow_run, and a capsule artifact restored from another run.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Annotation } from '../src/judge/schema.js';
import { buildZip, FakeGitHub } from './helpers/github-server.js';

const gh = new FakeGitHub();
// @actions/github fixes its default base URL from GITHUB_API_URL when first imported, so the
// modules are imported after the fake server is up.
let mod: {
  github: typeof import('../src/action/github.js');
  checkRun: typeof import('../src/action/report/check-run.js');
  comment: typeof import('../src/action/report/comment.js');
  pr: typeof import('../src/action/report/pull-request.js');
  restore: typeof import('../src/action/restore-capsule.js');
  truncate: typeof import('../src/action/report/truncate.js');
};

beforeAll(async () => {
  process.env.GITHUB_API_URL = await gh.start();
  mod = {
    github: await import('../src/action/github.js'),
    checkRun: await import('../src/action/report/check-run.js'),
    comment: await import('../src/action/report/comment.js'),
    pr: await import('../src/action/report/pull-request.js'),
    restore: await import('../src/action/restore-capsule.js'),
    truncate: await import('../src/action/report/truncate.js'),
  };
});
afterAll(async () => {
  await gh.stop();
});

const octokit = () => mod.github.createOctokit({ token: 'test-token', baseUrl: gh.url });
const SHA = 'a'.repeat(40);

function annotations(n: number): Annotation[] {
  return Array.from({ length: n }, (_, i) => ({
    path: 'replay.manifest.json',
    startLine: i + 1,
    endLine: i + 1,
    level: i % 3 === 0 ? 'failure' : 'warning',
    message: `difference ${i}`,
  }));
}

describe('check runs', () => {
  it('sends 120 annotations in batches of at most 50 and maps the decision to the conclusion', async () => {
    const res = await mod.checkRun.publishCheckRun(octokit(), {
      owner: 'acme',
      repo: 'shop',
      headSha: SHA,
      name: 'replay-env / shop / checkout',
      decision: 'warn',
      title: 'Warning: the graph has no related users',
      summary: '## Replay\nwarn',
      annotations: annotations(120),
    });
    expect(gh.violations).toEqual([]);
    const run = gh.checkRuns.find((r) => r.id === res.id)!;
    expect(run.conclusion).toBe('neutral');
    expect(run.annotations).toHaveLength(120);
    expect(run.annotationBatches).toEqual([50, 50, 20]);
    expect(run.annotations.map((a) => a.start_line)).toEqual(Array.from({ length: 120 }, (_, i) => i + 1));
    expect(res.annotationRequests).toBe(3);
  });

  it('maps block to failure and continue to success', async () => {
    for (const [decision, conclusion] of [
      ['block', 'failure'],
      ['continue', 'success'],
    ] as const) {
      const res = await mod.checkRun.publishCheckRun(octokit(), {
        owner: 'acme',
        repo: 'shop',
        headSha: SHA,
        name: `replay-env / shop / ${decision}`,
        decision,
        title: decision,
        summary: 'x',
        annotations: [],
      });
      expect(gh.checkRuns.find((r) => r.id === res.id)?.conclusion).toBe(conclusion);
    }
    expect(gh.violations).toEqual([]);
  });

  it('truncates an oversized summary under 65,535 characters with a note', async () => {
    const huge = `# Judgement\n${'| a | b |\n'.repeat(20_000)}\n\`\`\`\n${'é'.repeat(50_000)}`;
    const res = await mod.checkRun.publishCheckRun(octokit(), {
      owner: 'acme',
      repo: 'shop',
      headSha: SHA,
      name: 'replay-env / shop / huge',
      decision: 'block',
      title: 'Blocked',
      summary: huge,
      annotations: [],
    });
    expect(gh.violations).toEqual([]);
    const summary = gh.checkRuns.find((r) => r.id === res.id)!.output.summary!;
    expect(summary.length).toBeLessThan(65_535);
    expect(Buffer.byteLength(summary)).toBeLessThan(65_535);
    expect(summary).toContain('Truncated');
    expect(summary.startsWith('# Judgement')).toBe(true);
  });

  it('the fake server rejects a request GitHub would reject (51 annotations in one request)', async () => {
    const before = gh.violations.length;
    await expect(
      octokit().rest.checks.create({
        owner: 'acme',
        repo: 'shop',
        name: 'bad',
        head_sha: SHA,
        output: {
          title: 't',
          summary: 's',
          annotations: annotations(51).map(mod.checkRun.toApiAnnotation),
        },
      }),
    ).rejects.toMatchObject({ status: 422 });
    expect(gh.violations.length).toBe(before + 1);
    expect(gh.violations.at(-1)).toMatch(/annotations/);
    gh.violations.length = before;
  });
});

describe('sticky comment', () => {
  it('creates once, then updates the same comment, found past the first page', async () => {
    gh.seedComments(7, 130);
    const req = { owner: 'acme', repo: 'shop', prNumber: 7, checkName: 'replay-env / shop / default' };
    const first = await mod.comment.upsertStickyComment(octokit(), { ...req, body: 'first result' });
    const second = await mod.comment.upsertStickyComment(octokit(), { ...req, body: 'second result' });
    expect(gh.violations).toEqual([]);
    expect(first.action).toBe('created');
    expect(second.action).toBe('updated');
    expect(second.id).toBe(first.id);
    const ours = gh
      .commentsOn(7)
      .filter((c) => c.body.includes('<!-- replay-env:replay-env / shop / default -->'));
    expect(ours).toHaveLength(1);
    expect(ours[0]!.body).toContain('second result');
    // A different check name gets its own comment.
    await mod.comment.upsertStickyComment(octokit(), {
      ...req,
      checkName: 'replay-env / shop / other',
      body: 'x',
    });
    expect(gh.commentsOn(7)).toHaveLength(132);
  });
});

describe('workflow_run pull request lookup', () => {
  it('finds a fork PR by head SHA, and by head branch when the commit lookup is empty', async () => {
    const sha1 = 'b'.repeat(40);
    const sha2 = 'c'.repeat(40);
    gh.pulls.push({ number: 11, headSha: sha1, headLabel: 'someone:fix', state: 'open' });
    const base = {
      eventName: 'workflow_run',
      owner: 'acme',
      repo: 'shop',
      dispatchInputs: {},
      serverUrl: 'https://github.com',
    };
    expect(await mod.pr.findPullRequestForSha(octokit(), { ...base, headSha: sha1 })).toBe(11);
    expect(await mod.pr.findPullRequestForSha(octokit(), { ...base, headSha: sha2 })).toBeUndefined();
    expect(gh.violations).toEqual([]);
  });
});

describe('capsule artifact from another run', () => {
  it('downloads the zip through the REST API and picks the capsule file', async () => {
    const capsule = JSON.stringify({ version: 1, app: 'shop' });
    gh.addArtifact({
      owner: 'acme',
      repo: 'exports',
      runId: 555,
      name: 'capsule',
      zip: buildZip({ 'shop.capsule.json': capsule, 'README.txt': 'not a capsule' }),
    });
    const dir = mkdtempSync(join(tmpdir(), 'restore-'));
    const restored = await mod.restore.restoreCapsule({
      artifact: 'capsule',
      runId: 555,
      repository: 'acme/exports',
      token: 'test-token',
      currentRepository: { owner: 'acme', repo: 'shop' },
      workspace: dir,
      downloadDir: dir,
    });
    expect(gh.violations).toEqual([]);
    expect(readFileSync(restored.path, 'utf8')).toBe(capsule);
    expect(restored.encoding).toBe('json');
    expect(restored.source).toContain('workflow run 555 of acme/exports');
  });

  it('a missing artifact names what was looked for and where', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'restore-'));
    await expect(
      mod.restore.restoreCapsule({
        artifact: 'nope',
        runId: 556,
        token: 't',
        currentRepository: { owner: 'acme', repo: 'shop' },
        workspace: dir,
        downloadDir: dir,
      }),
    ).rejects.toThrow(/capsule artifact "nope" not found in workflow run 556 of acme\/shop/);
  });

  it('detects gzip and encrypted capsules by content', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pick-'));
    writeFileSync(join(dir, 'capsule.bin'), Buffer.concat([Buffer.from('REPLAYENC1\n'), Buffer.alloc(10)]));
    writeFileSync(join(dir, 'notes.txt'), 'x');
    const picked = await mod.restore.pickCapsuleFile(dir, 'test');
    expect(picked).toBe(join(dir, 'capsule.bin'));
  });
});

describe('truncation', () => {
  it('leaves short text alone and never splits a multi-byte character', () => {
    expect(mod.truncate.truncateMarkdown('short', 100, 'n')).toBe('short');
    const out = mod.truncate.truncateMarkdown('😀'.repeat(100), 120, 'cut');
    expect(Buffer.byteLength(out)).toBeLessThanOrEqual(120);
    expect(out).not.toContain('\uFFFD');
  });
});
