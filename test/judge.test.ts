import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type JudgeTraceOptions, judgeTrace } from '../src/gate/judge-trace.js';
import { loadLoop } from '../src/gate/loop.js';
import { loadPolicy } from '../src/gate/policy.js';
import { buildGolden, type Golden, writeGolden } from '../src/judge/golden.js';
import { judgementSchema } from '../src/judge/schema.js';
import type { Manifest } from '../src/manifest/schema.js';
import type { Trace } from '../src/trace/schema.js';
import { body, goodTrace, PEER_ID, probe, traceWith, USER_ID, writePng } from './helpers/trace-fixture.js';

const loop = loadLoop();
const policy = loadPolicy();

function goldenOf(trace: Trace, noise: string[] = []): Golden {
  return buildGolden({ trace, noise, now: new Date('2025-03-01T12:00:00Z') }).golden;
}

function judge(trace: Trace, golden: Golden | null, extra: Partial<JudgeTraceOptions> = {}) {
  return judgeTrace({
    trace,
    golden,
    goldenPath: '/g/subject.golden.json',
    policy,
    judges: loop.judges,
    ...extra,
  });
}

const manifestWith = (golden: NonNullable<Manifest['golden']>) => ({ golden }) as unknown as Manifest;

describe('golden match', () => {
  it('a golden matches its own trace: continue, every judge passes', () => {
    const t = goodTrace();
    const j = judge(t, goldenOf(t));
    expect(judgementSchema.safeParse(j).success).toBe(true);
    expect(j.decision).toBe('continue');
    expect(j.reasons).toEqual([]);
    expect(j.differences).toEqual([]);
    expect(j.judges.map((x) => [x.id, x.verdict])).toEqual([
      ['capsule-integrity', 'pass'],
      ['materialization-integrity', 'pass'],
      ['no-external-side-effects', 'pass'],
      ['golden-match', 'pass'],
      ['duration', 'pass'],
      ['database-state', 'skip'],
    ]);
  });

  it('without a golden, golden-match is skipped with a note and does not block', () => {
    const j = judge(goodTrace(), null);
    const gm = j.judges.find((x) => x.id === 'golden-match')!;
    expect(gm.verdict).toBe('skip');
    expect(gm.summary).toContain('/g/subject.golden.json');
    expect(gm.summary).toContain('bless');
    expect(j.facts.golden_missing).toBe(true);
    expect(j.decision).toBe('continue');
  });

  it('a changed status code blocks, with the path', () => {
    const g = goldenOf(goodTrace());
    const t = traceWith((x) => {
      probe(x, 'me').http!.status = 404;
    });
    const j = judge(t, g);
    expect(j.decision).toBe('block');
    expect(j.differences).toContainEqual({
      probe: 'me',
      path: '$.status',
      change: 'status',
      risk: 'fail',
      golden: '200',
      actual: '404',
      // Outcomes are public as they are.
      goldenPublic: '200',
      actualPublic: '404',
    });
    expect(j.reasons.some((r) => r.startsWith('block: golden_mismatch'))).toBe(true);
  });

  it('a changed timestamp does not count (normalised), in bodies and nested text', () => {
    const g = goldenOf(goodTrace());
    const t = traceWith((x) => {
      body(x, 'health').checkedAt = '2025-04-09T22:13:59.999Z';
      body(x, 'timeline').generatedAt = '2026-01-01 00:00:00+00';
      body(x, 'me').createdAt = '2023-12-31T23:59:59+01:00';
    });
    const j = judge(t, g);
    expect(j.differences).toEqual([]);
    expect(j.decision).toBe('continue');
  });

  it('a changed value fails; a removed field fails; a type change fails', () => {
    const g = goldenOf(goodTrace());
    const t = traceWith((x) => {
      body(x, 'me').name = 'Grace';
      delete body(x, 'me').followers;
      body(x, 'timeline').items[0].likes = '2';
    });
    const j = judge(t, g);
    expect(j.decision).toBe('block');
    const by = Object.fromEntries(j.differences.map((d) => [`${d.probe} ${d.path}`, d]));
    expect(by['me $.json.name']).toMatchObject({
      change: 'changed',
      risk: 'fail',
      golden: '"Ada"',
      actual: '"Grace"',
    });
    expect(by['me $.json.followers']).toMatchObject({ change: 'removed', risk: 'fail' });
    expect(by['timeline $.json.items[0].likes']).toMatchObject({
      change: 'type',
      golden: 'number',
      actual: 'string',
    });
  });

  it('an added field only warns', () => {
    const g = goldenOf(goodTrace());
    const t = traceWith((x) => {
      body(x, 'me').avatarUrl = '/a.png';
    });
    const j = judge(t, g);
    expect(j.decision).toBe('warn');
    expect(j.differences).toEqual([
      {
        probe: 'me',
        path: '$.json.avatarUrl',
        change: 'added',
        risk: 'warn',
        actual: '"/a.png"',
        // Public surfaces get the shape and a keyed fingerprint, not the value.
        actualPublic: expect.stringMatching(/^string\(6\) #[0-9a-f]{8}$/),
      },
    ]);
    expect(j.facts.golden_new_fields).toBe(true);
    expect(j.judges.find((x) => x.id === 'golden-match')!.verdict).toBe('warn');
  });

  it('a swapped UUID is caught; a consistently renamed one is not', () => {
    const g = goldenOf(goodTrace());
    const swapped = traceWith((x) => {
      const items = body(x, 'timeline').items;
      items[0].author = PEER_ID;
      items[1].author = USER_ID;
    });
    const js = judge(swapped, g);
    expect(js.decision).toBe('block');
    expect(js.differences.map((d) => `${d.probe} ${d.path}`)).toContain('timeline $.json.items[0].author');

    const NEW_USER = '11111111-2222-4333-8444-555555555555';
    const NEW_PEER = '99999999-8888-4777-8666-555555555555';
    const renamed = traceWith((x) => {
      body(x, 'me').id = NEW_USER;
      const tl = body(x, 'timeline');
      tl.owner = NEW_USER;
      tl.items[0].author = NEW_USER;
      tl.items[1].author = NEW_PEER;
    });
    const jr = judge(renamed, g);
    expect(jr.differences).toEqual([]);
    expect(jr.decision).toBe('continue');
  });

  it('an id that stops matching its twin in another probe is caught (relationships span probes)', () => {
    const g = goldenOf(goodTrace());
    const t = traceWith((x) => {
      body(x, 'me').id = '11111111-2222-4333-8444-555555555555';
    });
    const j = judge(t, g);
    expect(j.decision).toBe('block');
    expect(j.differences.length).toBeGreaterThan(0);
  });

  it('tolerated paths only warn; ignored paths are not judged (full and body-relative rules)', () => {
    const g = goldenOf(goodTrace());
    const t = traceWith((x) => {
      body(x, 'me').followers = 8;
      body(x, 'timeline').items[1].likes = 5;
    });
    const tolerated = judge(t, g, {
      manifest: manifestWith({ tolerate: ['$.probes.me.json.followers', '$.items[*].likes'] }),
    });
    expect(tolerated.decision).toBe('warn');
    expect(tolerated.differences.every((d) => d.risk === 'warn')).toBe(true);
    expect(tolerated.facts.golden_tolerated_difference).toBe(true);
    const ignored = judge(t, g, {
      manifest: manifestWith({ ignore: ['$.probes[*].body.followers', '$.probes.timeline.json..likes'] }),
    });
    expect(ignored.differences).toEqual([]);
    expect(ignored.decision).toBe('continue');
  });

  it('order-insensitive arrays when configured; ordered otherwise', () => {
    const g = goldenOf(goodTrace());
    const t = traceWith((x) => {
      body(x, 'timeline').items.reverse();
    });
    expect(judge(t, g).decision).toBe('block');
    const j = judge(t, g, { manifest: manifestWith({ unorderedArrays: ['$.probes.timeline.json.items'] }) });
    expect(j.differences).toEqual([]);
  });

  it('SQL rows are order-insensitive unless the query orders; differences never show row values', () => {
    const g = goldenOf(goodTrace());
    const reordered = traceWith((x) => {
      probe(x, 'posts').sql!.rows.reverse();
    });
    expect(judge(reordered, g).differences).toEqual([]);

    const orderedTrace = traceWith((x) => {
      probe(x, 'posts').sql!.ordered = true;
    });
    const og = goldenOf(orderedTrace);
    const orderedReversed = traceWith((x) => {
      probe(x, 'posts').sql!.rows.reverse();
    }, orderedTrace);
    expect(judge(orderedReversed, og).decision).toBe('block');

    const changed = traceWith((x) => {
      probe(x, 'posts').sql!.rows[1] = [2, 'SECRET-TITLE'];
      probe(x, 'posts').sql!.rows.push([4, 'fourth']);
    });
    const j = judge(changed, g);
    expect(j.decision).toBe('block');
    expect(j.differences.some((d) => d.probe === 'posts' && d.path.startsWith('$.sql.rows'))).toBe(true);
    expect(JSON.stringify(j.differences)).not.toContain('SECRET-TITLE');
    expect(JSON.stringify(j.differences)).not.toContain('fourth');
  });

  it('a probe that passed in the golden and fails now blocks; a new console error fails', () => {
    const g = goldenOf(goodTrace());
    const t = traceWith((x) => {
      const home = probe(x, 'home');
      home.browser!.consoleErrors = ['TypeError: cannot read properties of undefined (reading "id")'];
    });
    const j = judge(t, g);
    expect(j.decision).toBe('block');
    expect(j.differences).toContainEqual(
      expect.objectContaining({
        probe: 'home',
        path: '$.consoleErrors[0]',
        change: 'new-error',
        risk: 'fail',
      }),
    );
  });

  it('a missing probe fails and a new probe warns', () => {
    const g = goldenOf(goodTrace());
    const t = traceWith((x) => {
      probe(x, 'health').name = 'healthz';
    });
    const j = judge(t, g);
    expect(j.differences).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ probe: 'health', path: '$', change: 'removed', risk: 'fail' }),
        expect.objectContaining({ probe: 'healthz', path: '$', change: 'added', risk: 'warn' }),
      ]),
    );
  });

  it('a failing foreground command that passed in the golden is a difference', () => {
    const g = goldenOf(goodTrace());
    const t = traceWith((x) => {
      probe(x, 'unit').ok = false;
      probe(x, 'unit').command!.exitCode = 1;
    });
    const j = judge(t, g);
    expect(j.decision).toBe('block');
    expect(j.differences.map((d) => `${d.probe} ${d.path} ${d.change}`)).toEqual(
      expect.arrayContaining(['command:unit $.ok failed', 'command:unit $.exitCode status']),
    );
  });

  it('screenshots: a pixel difference above the threshold warns; a missing file is noted', () => {
    const dir = mkdtempSync(join(tmpdir(), 'judge-shots-'));
    writePng(join(dir, 'home.png'));
    const blessedTrace = traceWith((x) => {
      probe(x, 'home').browser!.screenshot = 'home.png';
    });
    const built = buildGolden({ trace: blessedTrace });
    const goldenDir = join(dir, 'golden');
    const { path } = writeGolden(goldenDir, built, join(dir, 'trace.json'));
    const golden = { golden: built.golden, path };
    expect(built.golden.probes.home!.screenshot).toBe('subject-graph-materializes.screenshots/home.png');

    // same image → pass
    const same = judge(blessedTrace, null, { golden, tracePath: join(dir, 'trace.json') });
    expect(same.differences).toEqual([]);
    expect(same.evidence.length).toBe(2);

    // 25% of the pixels changed → warn
    writePng(join(dir, 'home2.png'), { block: 0.25 });
    const changed = traceWith((x) => {
      probe(x, 'home').browser!.screenshot = 'home2.png';
    });
    const j = judge(changed, null, { golden, tracePath: join(dir, 'trace.json') });
    expect(j.decision).toBe('warn');
    expect(j.differences).toEqual([
      expect.objectContaining({ probe: 'home', path: '$.screenshot', change: 'pixels', risk: 'warn' }),
    ]);
    expect(j.differences[0]!.actual).toMatch(/25\.00% pixels differ/);

    // missing screenshot file → noted, not a failure
    const missing = traceWith((x) => {
      probe(x, 'home').browser!.screenshot = 'nope.png';
    });
    const jm = judge(missing, null, { golden, tracePath: join(dir, 'trace.json') });
    expect(jm.decision).toBe('continue');
    expect(jm.judges.find((x) => x.id === 'golden-match')!.evidence.join('\n')).toMatch(
      /no screenshot of home/,
    );
  });
});

describe('duration', () => {
  it('slower than the golden beyond the tolerance warns; within it passes', () => {
    const g = goldenOf(goodTrace());
    // 5000 ms golden: allowed 5000 + max(5000 ms run floor, 50%) = 10000 ms
    const slow = traceWith((x) => {
      x.durationMs = 11_000;
    });
    const j = judge(slow, g);
    expect(j.decision).toBe('warn');
    expect(j.facts.slower_than_golden).toBe(true);
    expect(j.judges.find((x) => x.id === 'duration')!.verdict).toBe('warn');
    const tolerant = judge(slow, g, { manifest: manifestWith({ durationTolerance: 2 }) });
    expect(tolerant.facts.slower_than_golden).toBe(false);
    expect(tolerant.decision).toBe('continue');
  });

  it("over the scenario's time budget warns", () => {
    const scenario = loop.scenarios[0]!;
    const t = traceWith((x) => {
      x.durationMs = 301_000;
    });
    const j = judge(t, null, { scenario });
    expect(j.facts.over_time_budget).toBe(true);
    expect(j.decision).toBe('warn');
  });
});
