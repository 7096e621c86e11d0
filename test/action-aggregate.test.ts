/**
 * The bundled Action in aggregate mode (the last job of a sharded matrix): shard judgements from
 * a directory → one check run (worst decision wins) with every annotation in batches of ≤ 50, one
 * sticky comment with a table of scenarios, truncated under GitHub's limits when oversized.
 * Judgement files are untrusted input: an invalid one is refused with the file named.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Judgement, judgementSchema } from '../src/judge/schema.js';
import { runBundledAction } from './helpers/action-process.js';
import { FakeGitHub } from './helpers/github-server.js';

const gh = new FakeGitHub();
beforeAll(async () => {
  await gh.start();
});
afterAll(async () => {
  await gh.stop();
});
afterEach(() => {
  expect(gh.violations).toEqual([]);
});

function judgement(
  scenario: string,
  decision: Judgement['decision'],
  extra: Partial<Judgement> = {},
): Judgement {
  return judgementSchema.parse({
    schemaVersion: 1,
    kind: 'replay-env.judgement',
    app: 'notes',
    scenario,
    createdAt: '2026-01-01T00:00:00.000Z',
    decision,
    reasons: decision === 'continue' ? [] : [`${scenario} reason`],
    humanReview: false,
    judges: [
      { id: 'capsule-integrity', title: 'Capsule integrity', verdict: 'pass', summary: 'fine', evidence: [] },
    ],
    differences: [],
    facts: {},
    trace: {},
    golden: null,
    policy: { path: 'gate.yaml' },
    annotations: [],
    evidence: [],
    ...extra,
  });
}

function shardsDir(files: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'shards-'));
  for (const [name, j] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), JSON.stringify(j));
  }
  return dir;
}

const PR = { action: 'opened', number: 5, pull_request: { number: 5, head: { sha: '9'.repeat(40) } } };

describe('aggregate mode', () => {
  it('worst decision wins; 120 annotations arrive in batches of at most 50; one comment with a table', async () => {
    const annotations = Array.from({ length: 120 }, (_, i) => ({
      path: 'golden/checkout.golden.json',
      startLine: i + 1,
      endLine: i + 1,
      level: 'warning' as const,
      message: `difference ${i}`,
    }));
    const dir = shardsDir({
      'shard-1/a.judgement.json': judgement('a', 'continue'),
      'shard-2/b.judgement.json': judgement('b', 'warn', { annotations }),
      'shard-2/c.judgement.json': judgement('c', 'block'),
    });
    const r = await runBundledAction({
      inputs: {
        mode: 'aggregate',
        'judgements-dir': dir,
        'github-token': 'ghs_test',
        'check-name': 'regression',
      },
      eventName: 'pull_request',
      payload: PR,
      apiUrl: gh.url,
      workspace: dir,
    });
    expect(r.code).toBe(1);
    expect(r.outputs.decision).toBe('block');
    const check = gh.checkRuns.find((c) => c.name === 'regression')!;
    expect(check.conclusion).toBe('failure');
    expect(check.annotations).toHaveLength(120);
    expect(check.annotationBatches).toEqual([50, 50, 20]);
    expect(check.output.summary).toMatch(/\| b \| notes \| ⚠️ warn \| b reason \|/);
    expect(gh.commentsOn(5)).toHaveLength(1);
    expect(r.summary).toContain('3 scenario(s): 1 block, 1 warn, 1 continue');
  });

  it('an oversized result is truncated under the limits with a note, in the check run and the comment', async () => {
    const differences = Array.from({ length: 3000 }, (_, i) => ({
      probe: `probe-${i}`,
      path: `$.items[${i}].${'x'.repeat(40)}`,
      change: 'changed' as const,
      risk: 'warn' as const,
      golden: 'g'.repeat(200),
      actual: 'a'.repeat(200),
    }));
    const dir = shardsDir(
      Object.fromEntries(
        Array.from({ length: 12 }, (_, i) => [
          `s${i}.judgement.json`,
          judgement(`s${i}`, 'warn', { differences }),
        ]),
      ),
    );
    const r = await runBundledAction({
      inputs: { mode: 'aggregate', 'judgements-dir': dir, 'github-token': 'ghs_test', 'check-name': 'huge' },
      eventName: 'pull_request',
      payload: { ...PR, number: 6, pull_request: { ...PR.pull_request, number: 6 } },
      apiUrl: gh.url,
      workspace: dir,
    });
    expect(r.code, r.stdout).toBe(0);
    const summary = gh.checkRuns.find((c) => c.name === 'huge')!.output.summary!;
    expect(summary.length).toBeLessThanOrEqual(65_535);
    expect(summary).toContain('Truncated');
    const [comment] = gh.commentsOn(6);
    expect(comment!.body.length).toBeLessThanOrEqual(65_536);
    expect(comment!.body).toContain('Truncated');
  });

  it('with a read-only token the annotations become workflow annotations on the same lines', async () => {
    const annotations = Array.from({ length: 12 }, (_, i) => ({
      path: 'golden/a.golden.json',
      startLine: i + 3,
      endLine: i + 3,
      level: 'failure' as const,
      message: `probe differs ${i}`,
    }));
    const dir = shardsDir({ 'a.judgement.json': judgement('a', 'block', { annotations }) });
    gh.forbidWrites = true;
    try {
      const r = await runBundledAction({
        inputs: {
          mode: 'aggregate',
          'judgements-dir': dir,
          'github-token': 'ghs_read_only',
          'check-name': 'forked',
        },
        eventName: 'pull_request',
        payload: { ...PR, number: 8, pull_request: { ...PR.pull_request, number: 8 } },
        apiUrl: gh.url,
        workspace: dir,
      });
      expect(r.code).toBe(1);
      expect(r.summary).toContain('1 scenario(s): 1 block');
      const errors = r.commands.filter(
        (c) => c.command === 'error' && c.props.includes('file=golden/a.golden.json'),
      );
      // GitHub shows 10 per level and step; the rest are counted in the log.
      expect(errors).toHaveLength(10);
      expect(errors[0]!.props).toContain('line=3');
      expect(r.stdout).toContain('2 more annotation(s)');
      expect(r.commands.some((c) => c.command === 'warning' && /token cannot write/.test(c.message))).toBe(
        true,
      );
      expect(gh.checkRuns.some((c) => c.name === 'forked')).toBe(false);
    } finally {
      gh.forbidWrites = false;
    }
  });

  it('refuses a judgement file that does not match the schema, naming it', async () => {
    const dir = shardsDir({ 'evil.judgement.json': { kind: 'replay-env.judgement', decision: 'continue' } });
    const r = await runBundledAction({
      inputs: { mode: 'aggregate', 'judgements-dir': dir, 'github-token': 'ghs_test' },
      eventName: 'schedule',
      payload: {},
      apiUrl: gh.url,
      workspace: dir,
    });
    expect(r.code).toBe(1);
    expect(r.commands.find((c) => c.command === 'error')?.message).toMatch(
      /evil\.judgement\.json: not a replay-env judgement/,
    );
  });
});
