/**
 * Bad-input corpus, judge side: malformed traces, goldens and gate policies fed to `judge` (and a
 * bad trace to `bless`). Every case must exit 2 with an error naming the file and the problem,
 * print no stack trace, and write nothing: no judgement (--out), no golden, no temp file beside
 * them.
 */
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { buildGolden, type Golden, writeGolden } from '../../src/judge/golden.js';
import { cli } from '../helpers/cli.js';
import { goodTrace } from '../helpers/trace-fixture.js';
import { caseDir, corpusRoot, expectCleanFailure, fixture } from './harness.js';

const SCENARIO = goodTrace().scenario!;
const GOLDEN_FILE = `${SCENARIO}.golden.json`;

let root = '';
let goodTracePath = '';
let goodGoldenDir = '';
let goodGolden: Golden;

beforeAll(() => {
  root = corpusRoot();
  goodTracePath = join(root, 'good.trace.json');
  writeFileSync(goodTracePath, JSON.stringify(goodTrace(), null, 2));
  goodGoldenDir = join(root, 'good-golden');
  const built = buildGolden({ trace: goodTrace(), now: new Date('2025-03-01T12:00:00Z') });
  goodGolden = built.golden;
  writeGolden(goodGoldenDir, built, goodTracePath);
});
afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;
/** goodTrace() with one change, as a file in the case directory. */
const traceWith = (change: (t: Record<string, unknown>) => void) => (dir: string) => {
  const t = structuredClone(goodTrace()) as unknown as Record<string, unknown>;
  change(t);
  const path = join(dir, 'in', 'trace.json');
  writeFileSync(path, json(t));
  return path;
};
/** A golden directory whose golden is `text`. */
const goldenDir = (text: (g: Golden) => string | Buffer) => (dir: string) => {
  const gdir = join(dir, 'in', 'golden');
  mkdirSync(gdir, { recursive: true });
  writeFileSync(join(gdir, GOLDEN_FILE), text(structuredClone(goodGolden)));
  return join(gdir, GOLDEN_FILE);
};
const goldenWith = (change: (g: Record<string, unknown>) => void) =>
  goldenDir((g) => {
    const x = g as unknown as Record<string, unknown>;
    change(x);
    return json(x);
  });

interface Case {
  id: string;
  /** The bad file (named in the error), written into the case directory when a function. */
  file: string | ((dir: string) => string);
  kind: 'trace' | 'golden' | 'policy' | 'bless';
  problem: RegExp;
}

const CASES: Case[] = [
  // ---- traces
  {
    id: 'trace-invalid-json',
    kind: 'trace',
    file: fixture('trace-invalid-json.json'),
    problem: /not a valid trace: invalid JSON/,
  },
  {
    id: 'trace-empty',
    kind: 'trace',
    file: (dir) => {
      writeFileSync(join(dir, 'in', 'trace.json'), '');
      return join(dir, 'in', 'trace.json');
    },
    problem: /not a valid trace: invalid JSON/,
  },
  {
    id: 'trace-invalid-utf8',
    kind: 'trace',
    file: (dir) => {
      const text = Buffer.from(json(goodTrace()));
      const at = text.indexOf('socialnotes');
      text[at + 2] = 0xc3; // "so\xc3ialnotes": a lead byte without its continuation
      writeFileSync(join(dir, 'in', 'trace.json'), text);
      return join(dir, 'in', 'trace.json');
    },
    problem: /not valid UTF-8 \(byte offset \d+\); a trace is UTF-8 text/,
  },
  {
    id: 'trace-duplicate-key',
    kind: 'trace',
    file: (dir) => {
      const text = json(goodTrace()).replace(
        '"app": "socialnotes",',
        '"app": "socialnotes",\n  "app": "other",',
      );
      writeFileSync(join(dir, 'in', 'trace.json'), text);
      return join(dir, 'in', 'trace.json');
    },
    problem: /not a valid trace: invalid JSON \(Duplicate key 'app'/,
  },
  {
    id: 'trace-wrong-kind',
    kind: 'trace',
    file: traceWith((t) => {
      t.kind = 'replay-env.judgement';
    }),
    problem: /not a valid trace:\n.*kind: must be "replay-env\.trace"/,
  },
  {
    id: 'trace-wrong-type',
    kind: 'trace',
    file: traceWith((t) => {
      t.durationMs = '5000';
    }),
    problem: /durationMs: must be a number, got a string/,
  },
  {
    id: 'trace-missing-events',
    kind: 'trace',
    file: traceWith((t) => {
      delete t.events;
    }),
    problem: /events: is required \(array\)/,
  },
  {
    id: 'trace-array',
    kind: 'trace',
    file: (dir) => {
      writeFileSync(join(dir, 'in', 'trace.json'), json([goodTrace()]));
      return join(dir, 'in', 'trace.json');
    },
    problem: /\(top level\): must be an object/,
  },
  { id: 'trace-not-found', kind: 'trace', file: fixture('no-such-trace.json'), problem: /trace not found/ },

  // ---- goldens
  {
    id: 'golden-invalid-json',
    kind: 'golden',
    file: goldenDir(() => readFileSync(fixture('golden-invalid-json.golden.json'))),
    problem: /invalid JSON at line 1, column \d+/,
  },
  {
    id: 'golden-wrong-kind',
    kind: 'golden',
    file: goldenWith((g) => {
      g.kind = 'replay-env.trace';
    }),
    problem: /invalid golden trace:\n.*kind: must be "replay-env\.golden"/,
  },
  {
    id: 'golden-schema-version-2',
    kind: 'golden',
    file: goldenWith((g) => {
      g.schemaVersion = 2;
    }),
    problem: /schemaVersion: must be 1/,
  },
  {
    id: 'golden-probes-wrong-type',
    kind: 'golden',
    file: goldenWith((g) => {
      g.probes = [];
    }),
    problem: /probes: must be a record, got an array/,
  },
  {
    id: 'golden-invalid-utf8',
    kind: 'golden',
    file: goldenDir((g) => Buffer.concat([Buffer.from(json(g)).subarray(0, 20), Buffer.from([0xff, 0xfe])])),
    problem: /not valid UTF-8 \(byte offset 20\); a golden trace is UTF-8 text/,
  },

  // ---- gate policies
  {
    id: 'policy-invalid-yaml',
    kind: 'policy',
    file: fixture('policy-invalid-syntax.bad-yaml'),
    problem: /invalid YAML at line 3, column \d+/,
  },
  {
    id: 'policy-unknown-fact',
    kind: 'policy',
    file: fixture('policy-unknown-fact.yaml'),
    problem: /block_if\[1\]: unknown fact "materialisation_failed"/,
  },
  {
    id: 'policy-not-a-list',
    kind: 'policy',
    file: fixture('policy-not-a-list.yaml'),
    problem: /block_if: must be an array, got a string/,
  },
  {
    id: 'policy-bad-operator',
    kind: 'policy',
    file: fixture('policy-bad-operator.yaml'),
    problem: /warn_if\[0\]: cannot parse "graph_related_users =~ 0"/,
  },
  {
    id: 'policy-unknown-key',
    kind: 'policy',
    file: fixture('policy-unknown-key.yaml'),
    problem: /\(top level\): Unrecognized key: "block_iff"/,
  },
  {
    id: 'policy-invalid-utf8',
    kind: 'policy',
    file: fixture('policy-invalid-utf8.bad-yaml'),
    problem: /not valid UTF-8 \(byte offset 23\); a gate policy is UTF-8 text/,
  },
  { id: 'policy-not-found', kind: 'policy', file: fixture('no-such-policy.yaml'), problem: /not found/ },

  // ---- bless: a bad trace never becomes a golden
  {
    id: 'bless-wrong-type',
    kind: 'bless',
    file: traceWith((t) => {
      t.events = {};
    }),
    problem: /events: must be an array, got an object/,
  },
];

function argsFor(c: Case, file: string, dir: string): string[] {
  const out = join(dir, 'out');
  switch (c.kind) {
    case 'trace':
      return ['judge', '--trace', file, '--golden', goodGoldenDir, '--out', join(out, 'judgement.json')];
    case 'golden':
      return [
        'judge',
        '--trace',
        goodTracePath,
        '--golden',
        join(file, '..'),
        '--out',
        join(out, 'judgement.json'),
      ];
    case 'policy':
      return [
        'judge',
        '--trace',
        goodTracePath,
        '--golden',
        goodGoldenDir,
        '--policy',
        file,
        '--out',
        join(out, 'judgement.json'),
      ];
    case 'bless':
      return ['bless', '--trace', file, '--golden', out, '--force'];
  }
}

describe('bad traces, goldens and policies: exit 2, named file and problem, nothing written', () => {
  it.each(CASES.map((c) => [c.id, c] as const))('%s', async (id, c) => {
    const dir = caseDir(root, id);
    mkdirSync(join(dir, 'in'), { recursive: true });
    mkdirSync(join(dir, 'out'), { recursive: true });
    const file = typeof c.file === 'function' ? c.file(dir) : c.file;
    const r = await cli(argsFor(c, file, dir));
    if (process.env.BAD_INPUTS_SHOW) console.log(id, r.code, r.stderr);
    expectCleanFailure(r, {
      code: 2,
      file,
      problem: c.problem,
      outputs: [join(dir, 'out', 'judgement.json'), join(dir, 'out', GOLDEN_FILE)],
      emptyDirs: [join(dir, 'out')],
    });
  });

  it('the good trace, golden and default policy judge cleanly (each case differs from them in one defect)', async () => {
    const dir = caseDir(root, 'good');
    const out = join(dir, 'judgement.json');
    const r = await cli(['judge', '--trace', goodTracePath, '--golden', goodGoldenDir, '--out', out]);
    if (r.code !== 0) throw new Error(r.stderr);
    copyFileSync(out, join(dir, 'copy.json'));
  });
});
