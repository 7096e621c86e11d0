/**
 * Timing judged as timing, on real recorded durations: 20 identical runs of the example app on
 * this (shared, loaded) machine (test/fixtures/timing/socialapp-runs.json, recorded by
 * REPLAY_TIMING_RUNS=20 npx vitest run test/timing-measure.test.ts). Whichever two runs are
 * blessed, the duration judge warns on none of the 20; the old rule (250 ms, 50% of one sample)
 * did. A real slowdown still warns, and every output format shows the numbers.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { judgeTrace } from '../src/gate/judge-trace.js';
import { loadPolicy } from '../src/gate/policy.js';
import { buildGolden } from '../src/judge/golden.js';
import { renderJudgementMarkdown, renderJudgementText } from '../src/judge/markdown.js';
import type { Trace, TraceEvent } from '../src/trace/schema.js';
import { REPO_ROOT } from './helpers/cli.js';
import { goodTrace } from './helpers/trace-fixture.js';

interface Run {
  totalMs: number;
  probes: Record<string, number>;
}
const RUNS: Run[] = JSON.parse(
  readFileSync(join(REPO_ROOT, 'test/fixtures/timing/socialapp-runs.json'), 'utf8'),
).runs;

function traceOf(run: Run): Trace {
  const t = goodTrace();
  t.durationMs = run.totalMs;
  t.events = Object.entries(run.probes).map(
    ([name, ms]): TraceEvent => ({
      name,
      kind: 'probe-http',
      ok: true,
      startedAt: t.startedAt,
      durationMs: ms,
      http: { method: 'GET', url: `http://127.0.0.1:1/${name}`, status: 200, json: { ok: true } },
    }),
  );
  return t;
}

const policy = loadPolicy();
function judge(trace: Trace, blessed: number, second: number | undefined) {
  const built = buildGolden({
    trace: traceOf(RUNS[blessed]!),
    ...(second !== undefined ? { secondDurations: RUNS[second]! } : {}),
  });
  return judgeTrace({ trace, golden: built.golden, goldenPath: 'golden.json', policy });
}
const durationOf = (j: ReturnType<typeof judge>) => j.judges.find((x) => x.id === 'duration')!;

describe('the duration judge on 20 real identical runs', () => {
  it('recorded 20 runs with real spread', () => {
    expect(RUNS).toHaveLength(20);
    const totals = RUNS.map((r) => r.totalMs);
    expect(Math.max(...totals) / Math.min(...totals)).toBeGreaterThan(1.5); // a loaded machine
  });

  it('warns on none of them, whichever two runs were blessed', () => {
    const warned: string[] = [];
    for (let a = 0; a < RUNS.length; a++)
      for (let b = 0; b < RUNS.length; b++) {
        if (a === b) continue;
        for (const [i, run] of RUNS.entries()) {
          const d = durationOf(judge(traceOf(run), a, b));
          if (d.verdict !== 'pass') warned.push(`blessed ${a}+${b}, run ${i}: ${d.summary}`);
        }
      }
    expect(warned).toEqual([]);
  });

  it('the old rule (one sample, 50%, 250 ms) flickered on the same runs', () => {
    const old = RUNS.flatMap((base) =>
      RUNS.filter((r) =>
        Object.entries(base.probes).some(([p, ms]) => r.probes[p]! > ms * 1.5 && r.probes[p]! - ms >= 250),
      ),
    );
    expect(old.length).toBeGreaterThan(0);
  });

  it('a real slowdown warns, with its numbers in text, JSON and Markdown', () => {
    const slow = traceOf({ ...RUNS[5]!, probes: { ...RUNS[5]!.probes, 'private-timeline': 2600 } });
    const j = judge(slow, 0, 1);
    const d = durationOf(j);
    expect(d.verdict).toBe('warn');
    expect(j.facts.slower_than_golden).toBe(true);
    const base = RUNS[0]!.probes['private-timeline']!;
    const spread = Math.abs(base - RUNS[1]!.probes['private-timeline']!);
    const line = `probe private-timeline 2600 ms vs golden ${base} ms ±${spread} (allowed ≤ ${base + Math.max(1000, 3 * spread, base / 2)} ms)`;
    expect(d.summary).toContain(line);
    expect(renderJudgementText(j)).toContain(line);
    expect(renderJudgementMarkdown(j)).toContain('2600 ms vs golden');
    expect(j.timing.find((r) => r.name === 'probe private-timeline')).toEqual({
      name: 'probe private-timeline',
      actualMs: 2600,
      baselineMs: base,
      spreadMs: spread,
      allowedMs: base + Math.max(1000, 3 * spread, base / 2),
      slower: true,
    });
    // A pass shows its numbers too.
    const ok = durationOf(judge(traceOf(RUNS[2]!), 0, 1));
    expect(ok.summary).toMatch(
      /^within the golden's durations: run \d+ ms vs golden \d+ ms ±\d+ \(allowed ≤ \d+ ms\)/,
    );
  });
});
