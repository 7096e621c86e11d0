/**
 * Bad-input corpus, paths and files: traces, goldens, manifests and policies that try to make a
 * command read or write outside its directories, or read something that is not a file.
 *
 *   - bless/judge: a scenario id names the golden file, so it must be a strict id; screenshots
 *     are taken only from the run's own output directory (the trace's directory) and read only
 *     from inside the golden's directory; symlinks planted in either do not lead out.
 *   - every input must be a regular file (/dev/zero never ends, a FIFO blocks);
 *   - an output (--out, --trace-out) is never a device, a directory or the command's own input;
 *   - `__proto__` keys, YAML alias bombs and overflowing timeouts are refused with the field.
 *
 * Every case exits 2 with an error naming the file (or flag) and the problem, without a stack
 * trace, and leaves the golden directory, the outputs and the "outside" directory without a file.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGolden, type Golden, goldenText } from '../../src/judge/golden.js';
import type { Trace } from '../../src/trace/schema.js';
import { cli, cliProcess } from '../helpers/cli.js';
import { goodTrace, probe, writePng } from '../helpers/trace-fixture.js';
import { caseDir, corpusRoot, expectCleanFailure, fixture } from './harness.js';

const SCENARIO = goodTrace().scenario!;
let root = '';

beforeAll(() => {
  root = corpusRoot();
});
afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;

/** The directories of one case: the run's output (trace), the golden dir, and "outside". */
interface Dirs {
  dir: string;
  run: string;
  golden: string;
  outside: string;
}

function dirsFor(dir: string): Dirs {
  const d = { dir, run: join(dir, 'run'), golden: join(dir, 'golden'), outside: join(dir, 'outside') };
  for (const p of [d.run, d.golden, d.outside]) mkdirSync(p, { recursive: true });
  return d;
}

/** The good trace changed by `edit` (not re-validated: the point is invalid input), as run/trace.json. */
function traceFile(d: Dirs, edit: (t: Trace) => void = () => {}): string {
  const t = structuredClone(goodTrace());
  edit(t);
  const path = join(d.run, 'trace.json');
  writeFileSync(path, json(t));
  return path;
}

/** The good trace with a screenshot of probe "home" at `rel` (relative to the trace). */
const withShot = (d: Dirs, rel: string) =>
  traceFile(d, (t) => {
    probe(t, 'home').browser!.screenshot = rel;
  });

/** A golden for the good trace in the golden dir (optionally changed), with its screenshot. */
function goldenFile(d: Dirs, edit: (g: Golden) => void = () => {}): string {
  const { golden } = buildGolden({ trace: goodTrace(), now: new Date('2025-03-01T12:00:00Z') });
  golden.probes.home!.screenshot = `${SCENARIO}.screenshots/home.png`;
  mkdirSync(join(d.golden, `${SCENARIO}.screenshots`), { recursive: true });
  writePng(join(d.golden, `${SCENARIO}.screenshots`, 'home.png'));
  edit(golden);
  const path = join(d.golden, `${SCENARIO}.golden.json`);
  writeFileSync(path, goldenText(golden));
  return path;
}

const bless = (trace: string, d: Dirs, ...more: string[]) => [
  'bless',
  '--trace',
  trace,
  '--golden',
  d.golden,
  '--force',
  ...more,
];
const judge = (trace: string, d: Dirs, ...more: string[]) => [
  'judge',
  '--trace',
  trace,
  '--golden',
  d.golden,
  '--out',
  join(d.dir, 'out', 'judgement.json'),
  ...more,
];

interface Setup {
  args: string[];
  /** The file or flag the message must name. */
  file: string;
  /** Files that must be unchanged afterwards (path → content before). */
  keep?: string[];
  /** Directories that must hold no file afterwards (default: outside, out; bless: golden too). */
  empty?: string[];
  /** Run as a child process with a timeout (a hang must fail the case, not the suite). */
  process?: boolean;
}

interface Case {
  id: string;
  setup: (d: Dirs) => Setup;
  problem: RegExp;
}

const ID_RULE = /scenario must be a scenario id|scenario: must be a scenario id/;

/** A bless of a trace whose scenario is `id`: refused, nothing written anywhere. */
const blessScenario =
  (id: string): Case['setup'] =>
  (d) => {
    const t = traceFile(d, (x) => {
      x.scenario = id;
    });
    return { args: bless(t, d), file: t, empty: [d.golden] };
  };
/** A bless with --scenario `id`: refused by the option parser. */
const blessFlag =
  (id: string): Case['setup'] =>
  (d) => ({
    args: bless(traceFile(d), d, '--scenario', id),
    file: '--scenario',
    empty: [d.golden],
  });
/** A bless whose trace has a screenshot at `rel`, after `prepare` (which may plant files). */
const blessShot =
  (rel: string, prepare: (d: Dirs) => void = () => {}): Case['setup'] =>
  (d) => {
    prepare(d);
    const t = withShot(d, rel);
    return { args: bless(t, d), file: t, empty: [d.golden] };
  };
const secret = (d: Dirs) => {
  writePng(join(d.outside, 'secret.png'));
  return join(d.outside, 'secret.png');
};

const CASES: Case[] = [
  // ---- scenario ids from the trace (they name the golden file)
  { id: 'bless-scenario-traversal', setup: blessScenario('../outside/x'), problem: ID_RULE },
  { id: 'bless-scenario-deep-traversal', setup: blessScenario('../../../tmp/x'), problem: ID_RULE },
  { id: 'bless-scenario-absolute', setup: blessScenario('/tmp/replay-env-x'), problem: ID_RULE },
  { id: 'bless-scenario-embedded-dotdot', setup: blessScenario('a..b'), problem: ID_RULE },
  { id: 'bless-scenario-leading-dot', setup: blessScenario('.hidden'), problem: ID_RULE },
  { id: 'bless-scenario-slash', setup: blessScenario('a/b'), problem: ID_RULE },
  { id: 'bless-scenario-backslash', setup: blessScenario('a\\b'), problem: ID_RULE },
  { id: 'bless-scenario-newline', setup: blessScenario('x\ny'), problem: ID_RULE },
  { id: 'bless-scenario-nul', setup: blessScenario('x\u0000y'), problem: ID_RULE },
  { id: 'bless-scenario-too-long', setup: blessScenario('a'.repeat(129)), problem: ID_RULE },
  { id: 'bless-scenario-empty', setup: blessScenario(''), problem: ID_RULE },
  {
    id: 'bless-second-trace-scenario-traversal',
    setup: (d) => {
      const first = traceFile(d);
      const second = join(d.run, 'second.json');
      const t = structuredClone(goodTrace());
      t.scenario = '../outside/x';
      writeFileSync(second, json(t));
      return { args: bless(first, d, '--second-trace', second), file: second, empty: [d.golden] };
    },
    problem: ID_RULE,
  },
  // ---- scenario ids from the command line
  { id: 'bless-flag-scenario-traversal', setup: blessFlag('../outside/x'), problem: /must be a scenario id/ },
  {
    id: 'bless-flag-scenario-absolute',
    setup: blessFlag('/tmp/replay-env-x'),
    problem: /must be a scenario id/,
  },
  { id: 'bless-flag-scenario-dotdot', setup: blessFlag('..'), problem: /must be a scenario id/ },
  {
    id: 'run-flag-scenario-traversal',
    setup: (d) => ({
      args: ['run', '--app', fixture('app.json'), '--scenario', '../../x', '--skip-materialize'],
      file: '--scenario',
      empty: [d.golden],
    }),
    problem: /must be a scenario id/,
  },

  // ---- screenshots in the trace: only from the run's own output directory
  {
    id: 'bless-screenshot-etc-shadow',
    setup: blessShot('../../../../etc/shadow'),
    problem: /outside the run's output directory/,
  },
  {
    id: 'bless-screenshot-absolute',
    setup: blessShot('/etc/passwd'),
    problem: /outside the run's output directory/,
  },
  {
    id: 'bless-screenshot-sibling-dir',
    setup: blessShot('../outside/secret.png', secret),
    problem: /outside the run's output directory/,
  },
  {
    id: 'bless-screenshot-symlink-file',
    setup: blessShot('home.png', (d) => symlinkSync(secret(d), join(d.run, 'home.png'))),
    problem: /outside the run's output directory/,
  },
  {
    id: 'bless-screenshot-symlink-dir',
    setup: blessShot('artifacts/secret.png', (d) => {
      secret(d);
      symlinkSync(d.outside, join(d.run, 'artifacts'));
    }),
    problem: /outside the run's output directory/,
  },
  {
    id: 'bless-screenshot-symlink-dangling',
    setup: blessShot('home.png', (d) => symlinkSync(join(d.outside, 'later.png'), join(d.run, 'home.png'))),
    problem: /outside the run's output directory/,
  },
  {
    id: 'bless-screenshot-fifo',
    setup: blessShot('home.png', (d) => execFileSync('mkfifo', [join(d.run, 'home.png')])),
    problem: /home\.png is not a regular file/,
  },
  {
    id: 'bless-screenshot-device-symlink',
    setup: blessShot('home.png', (d) => symlinkSync('/dev/zero', join(d.run, 'home.png'))),
    problem: /outside the run's output directory/,
  },
  {
    id: 'bless-screenshot-nul',
    setup: blessShot('home\u0000.png'),
    problem: /outside the run's output directory/,
  },

  // ---- the golden directory: nothing read or written through a planted symlink
  {
    id: 'bless-golden-screenshots-dir-symlink',
    setup: (d) => {
      writePng(join(d.run, 'home.png'));
      symlinkSync(d.outside, join(d.golden, `${SCENARIO}.screenshots`));
      const t = withShot(d, 'home.png');
      return { args: bless(t, d), file: `${SCENARIO}.screenshots`, empty: [] };
    },
    problem: /refusing to write screenshots outside the golden directory/,
  },
  {
    id: 'bless-golden-file-symlink',
    setup: (d) => {
      const outsideGolden = join(d.outside, 'g.json');
      const { golden } = buildGolden({ trace: goodTrace() });
      writeFileSync(outsideGolden, goldenText(golden));
      symlinkSync(outsideGolden, join(d.golden, `${SCENARIO}.golden.json`));
      return {
        args: bless(traceFile(d), d),
        file: `${SCENARIO}.golden.json`,
        keep: [outsideGolden],
        empty: [],
      };
    },
    problem: /leads outside the golden directory/,
  },
  {
    id: 'judge-golden-file-symlink',
    setup: (d) => {
      const outsideGolden = join(d.outside, 'g.json');
      const { golden } = buildGolden({ trace: goodTrace() });
      writeFileSync(outsideGolden, goldenText(golden));
      symlinkSync(outsideGolden, join(d.golden, `${SCENARIO}.golden.json`));
      return {
        args: judge(traceFile(d), d),
        file: `${SCENARIO}.golden.json`,
        keep: [outsideGolden],
        empty: [],
      };
    },
    problem: /leads outside the golden directory/,
  },
  {
    id: 'judge-trace-scenario-traversal',
    setup: (d) => {
      goldenFile(d);
      const t = traceFile(d, (x) => {
        x.scenario = '../outside/x';
      });
      return { args: judge(t, d), file: t };
    },
    problem: ID_RULE,
  },
  {
    id: 'judge-golden-scenario-field',
    setup: (d) => {
      const g = goldenFile(d, (x) => {
        x.scenario = '../../x';
      });
      return { args: judge(traceFile(d), d), file: g };
    },
    problem: /scenario: must be a scenario id/,
  },

  // ---- screenshots named by a golden: only inside the golden's directory
  ...(
    [
      ['judge-golden-screenshot-etc-passwd', '../../../../etc/passwd'],
      ['judge-golden-screenshot-absolute', '/etc/passwd'],
      ['judge-golden-screenshot-sibling', '../outside/secret.png'],
    ] as const
  ).map(
    ([id, rel]): Case => ({
      id,
      setup: (d) => {
        secret(d);
        writePng(join(d.run, 'home.png'));
        const g = goldenFile(d, (x) => {
          x.probes.home!.screenshot = rel;
        });
        return { args: judge(withShot(d, 'home.png'), d), file: g };
      },
      problem: /probes\.home\.screenshot: .* is outside the golden's directory/,
    }),
  ),
  {
    id: 'judge-golden-screenshot-symlink',
    setup: (d) => {
      writePng(join(d.run, 'home.png'));
      const g = goldenFile(d);
      const shot = join(d.golden, `${SCENARIO}.screenshots`, 'home.png');
      rmSync(shot);
      symlinkSync(secret(d), shot);
      return { args: judge(withShot(d, 'home.png'), d), file: g };
    },
    problem: /is outside the golden's directory/,
  },
  // ---- screenshots named by the trace being judged
  ...(
    [
      ['judge-trace-screenshot-etc-passwd', '../../../../etc/passwd'],
      ['judge-trace-screenshot-absolute', '/etc/passwd'],
      ['judge-trace-screenshot-sibling', '../outside/secret.png'],
    ] as const
  ).map(
    ([id, rel]): Case => ({
      id,
      setup: (d) => {
        secret(d);
        goldenFile(d);
        const t = withShot(d, rel);
        return { args: judge(t, d), file: t };
      },
      problem: /outside the run's output directory/,
    }),
  ),

  // ---- outputs: never a device, a directory, a pipe or one of the command's inputs
  {
    id: 'judge-out-is-trace',
    setup: (d) => {
      goldenFile(d);
      const t = traceFile(d);
      return { args: [...judge(t, d).slice(0, -2), '--out', t], file: '--out', keep: [t] };
    },
    problem: /is the trace this command reads/,
  },
  {
    id: 'judge-out-is-golden',
    setup: (d) => {
      const g = goldenFile(d);
      return { args: [...judge(traceFile(d), d).slice(0, -2), '--out', g], file: '--out', keep: [g] };
    },
    problem: /is the golden this command reads/,
  },
  {
    id: 'judge-out-is-policy',
    setup: (d) => {
      goldenFile(d);
      const policy = join(d.dir, 'gate.yaml');
      writeFileSync(policy, 'version: 1\nblock_if:\n  - materialization_failed\n');
      return {
        args: [...judge(traceFile(d), d).slice(0, -2), '--policy', policy, '--out', policy],
        file: '--out',
        keep: [policy],
      };
    },
    problem: /is the gate policy this command reads/,
  },
  {
    id: 'judge-out-symlink-to-trace',
    setup: (d) => {
      goldenFile(d);
      const t = traceFile(d);
      const link = join(d.dir, 'link.json');
      symlinkSync(t, link);
      return { args: [...judge(t, d).slice(0, -2), '--out', link], file: '--out', keep: [t] };
    },
    problem: /is the trace this command reads/,
  },
  {
    id: 'judge-out-fifo',
    setup: (d) => {
      goldenFile(d);
      const fifo = join(d.dir, 'judgement.fifo');
      execFileSync('mkfifo', [fifo]);
      return { args: [...judge(traceFile(d), d).slice(0, -2), '--out', fifo], file: '--out', keep: [fifo] };
    },
    problem: /refusing to write over a pipe \(FIFO\)/,
  },
  {
    id: 'judge-out-directory',
    setup: (d) => {
      goldenFile(d);
      return { args: [...judge(traceFile(d), d).slice(0, -2), '--out', d.outside], file: '--out' };
    },
    problem: /refusing to write over a directory/,
  },
  {
    id: 'run-trace-out-is-manifest',
    setup: (d) => {
      const m = join(d.dir, 'app.json');
      writeFileSync(m, readFileSync(fixture('app.json')));
      return {
        args: ['run', '--app', m, '--trace-out', m, '--skip-materialize'],
        file: '--trace-out',
        keep: [m],
      };
    },
    problem: /is the manifest this command reads/,
  },
  {
    id: 'run-trace-out-is-capsule',
    setup: (d) => {
      const c = join(d.dir, 'capsule.json');
      writeFileSync(c, readFileSync(fixture('capsule-good.json')));
      return {
        args: ['run', '--app', fixture('app.json'), '--capsule', c, '--trace-out', c],
        file: '--trace-out',
        keep: [c],
      };
    },
    problem: /is the capsule this command reads/,
  },
  {
    id: 'run-trace-out-fifo',
    setup: (d) => {
      const fifo = join(d.dir, 'trace.fifo');
      execFileSync('mkfifo', [fifo]);
      return {
        args: ['run', '--app', fixture('app.json'), '--trace-out', fifo, '--skip-materialize'],
        file: '--trace-out',
        keep: [fifo],
      };
    },
    problem: /refusing to write over a pipe \(FIFO\)/,
  },
  {
    id: 'export-out-is-manifest',
    setup: (d) => {
      const m = join(d.dir, 'app.json');
      writeFileSync(m, readFileSync(fixture('app.json')));
      return {
        args: exportTo(m, m),
        file: '--out',
        keep: [m],
      };
    },
    problem: /is the manifest this command reads/,
  },
  {
    id: 'export-out-symlink-to-manifest',
    setup: (d) => {
      const m = join(d.dir, 'app.json');
      writeFileSync(m, readFileSync(fixture('app.json')));
      const link = join(d.dir, 'capsule.json');
      symlinkSync(m, link);
      return { args: exportTo(m, link), file: '--out', keep: [m] };
    },
    problem: /is the manifest this command reads/,
  },
  {
    id: 'export-out-fifo',
    setup: (d) => {
      const fifo = join(d.dir, 'capsule.fifo');
      execFileSync('mkfifo', [fifo]);
      return { args: exportTo(fixture('app.json'), fifo), file: '--out', keep: [fifo] };
    },
    problem: /refusing to write over a pipe \(FIFO\)/,
  },
  {
    id: 'export-out-directory',
    setup: (d) => ({ args: exportTo(fixture('app.json'), d.outside), file: '--out' }),
    problem: /refusing to write over a directory/,
  },

  // ---- inputs that are not files
  {
    // A recipients file that is a FIFO would block the export forever before it starts.
    id: 'export-encrypt-to-fifo',
    setup: (d) => {
      const fifo = join(d.dir, 'recipients.fifo');
      execFileSync('mkfifo', [fifo]);
      return {
        args: [...exportTo(fixture('app.json'), join(d.dir, 'c.json.age')), '--encrypt-to', fifo],
        file: '--encrypt-to',
        keep: [fifo],
        process: true,
      };
    },
    problem: /expected a recipients file, found a pipe \(FIFO\)/,
  },
  {
    id: 'inspect-dev-zero',
    setup: () => ({ args: ['inspect', '/dev/zero'], file: '/dev/zero', process: true }),
    problem: /expected a capsule file, found a character device/,
  },
  {
    id: 'inspect-fifo',
    setup: (d) => {
      const fifo = join(d.dir, 'capsule.fifo');
      execFileSync('mkfifo', [fifo]);
      return { args: ['inspect', fifo], file: fifo, process: true };
    },
    problem: /expected a capsule file, found a pipe \(FIFO\)/,
  },
  {
    id: 'run-capsule-dev-zero',
    setup: () => ({
      args: [
        'run',
        '--app',
        fixture('app.json'),
        '--capsule',
        '/dev/zero',
        '--db-url',
        'postgres://u@127.0.0.1:1/x',
      ],
      file: '/dev/zero',
      process: true,
    }),
    problem: /expected a capsule file, found a character device/,
  },
  {
    id: 'manifest-dev-zero',
    setup: () => ({ args: ['doctor', '--app', '/dev/zero'], file: '/dev/zero', process: true }),
    problem: /expected a manifest file, found a character device/,
  },
  {
    id: 'manifest-fifo',
    setup: (d) => {
      const fifo = join(d.dir, 'app.json');
      execFileSync('mkfifo', [fifo]);
      return { args: ['doctor', '--app', fifo], file: fifo, process: true };
    },
    problem: /expected a manifest file, found a pipe \(FIFO\)/,
  },
  {
    id: 'trace-dev-zero',
    setup: (d) => ({ args: judge('/dev/zero', d), file: '/dev/zero', process: true }),
    problem: /expected a trace file, found a character device/,
  },
  {
    id: 'policy-dev-zero',
    setup: (d) => {
      goldenFile(d);
      return { args: [...judge(traceFile(d), d), '--policy', '/dev/zero'], file: '/dev/zero', process: true };
    },
    problem: /expected a gate policy file, found a character device/,
  },
  {
    id: 'golden-fifo',
    setup: (d) => {
      execFileSync('mkfifo', [join(d.golden, `${SCENARIO}.golden.json`)]);
      return { args: judge(traceFile(d), d), file: `${SCENARIO}.golden.json`, process: true, empty: [] };
    },
    problem: /expected a golden trace file, found a pipe \(FIFO\)/,
  },

  // ---- configuration documents
  ...manifestCases(),
  {
    id: 'policy-alias-bomb',
    setup: (d) => {
      goldenFile(d);
      const p = join(d.dir, 'gate.yaml');
      const lines = ['version: 1', 'a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]'];
      for (let i = 1; i <= 8; i++)
        lines.push(
          `a${i}: &a${i} [${Array(9)
            .fill(`*a${i - 1}`)
            .join(', ')}]`,
        );
      lines.push('block_if: *a8');
      writeFileSync(p, `${lines.join('\n')}\n`);
      return { args: [...judge(traceFile(d), d), '--policy', p], file: p, process: true };
    },
    problem: /invalid YAML: .*alias/i,
  },
  {
    id: 'policy-proto-key',
    setup: (d) => {
      goldenFile(d);
      const p = join(d.dir, 'gate.yaml');
      writeFileSync(p, 'version: 1\n__proto__:\n  polluted: true\nblock_if:\n  - materialization_failed\n');
      return { args: [...judge(traceFile(d), d), '--policy', p], file: p };
    },
    problem: /__proto__: the key "__proto__" is not allowed/,
  },
];

/** export-postgres of the fixture app to `out` (refused before it connects anywhere). */
function exportTo(manifest: string, out: string): string[] {
  return [
    'export-postgres',
    '--app',
    manifest,
    '--subject',
    'tenant_id=acme',
    '--db-url',
    'postgres://u@127.0.0.1:1/x',
    '--out',
    out,
  ];
}

/** Manifests (checked by doctor without a database): one defect each. */
function manifestCases(): Case[] {
  const app = () => JSON.parse(readFileSync(fixture('app.json'), 'utf8')) as Record<string, unknown>;
  const one = (id: string, text: (m: Record<string, unknown>) => string, problem: RegExp): Case => ({
    id,
    setup: (d) => {
      const path = join(d.dir, 'app.json');
      writeFileSync(path, text(app()));
      return { args: ['doctor', '--app', path], file: path };
    },
    problem,
  });
  const probe = (extra: Record<string, unknown>) => (m: Record<string, unknown>) =>
    json({ ...m, probes: [{ kind: 'http', url: 'http://127.0.0.1:1/', ...extra }] });
  const command = (extra: Record<string, unknown>) => (m: Record<string, unknown>) =>
    json({ ...m, commands: [{ name: 'api', run: 'true', background: true, ...extra }] });
  return [
    one(
      'manifest-proto-top-level',
      (m) => json(m).replace('{\n', '{\n  "__proto__": {"polluted": true},\n'),
      /__proto__: the key "__proto__" is not allowed/,
    ),
    one(
      'manifest-proto-nested',
      (m) => json(m).replace('"name": "users",', '"name": "users",\n "__proto__": {"x": 1},'),
      /postgres\.tables\[0\]\.__proto__: the key "__proto__" is not allowed/,
    ),
    one(
      'manifest-proto-in-env',
      // (JSON.parse: in an object literal `__proto__` would set the prototype, not a key)
      command({ env: JSON.parse('{"__proto__": "x"}') }),
      /commands\[0\]\.env\.__proto__: the key "__proto__" is not allowed/,
    ),
    one(
      'manifest-probe-timeout-overflow',
      probe({ timeoutSeconds: 2147484 }),
      /probes\[0\]\.timeoutSeconds: must be at most 86400 seconds/,
    ),
    one(
      'manifest-probe-timeout-infinite',
      probe({ timeoutSeconds: 1e308 }),
      /probes\[0\]\.timeoutSeconds: must be at most 86400 seconds/,
    ),
    one(
      'manifest-command-timeout-overflow',
      command({ timeoutSeconds: 2147484 }),
      /commands\[0\]\.timeoutSeconds: must be at most 86400 seconds/,
    ),
    one(
      'manifest-ready-timeout-overflow',
      command({ readyUrl: 'http://127.0.0.1:1/', readyTimeoutSeconds: 9e9 }),
      /commands\[0\]\.readyTimeoutSeconds: must be at most 86400 seconds/,
    ),
    one(
      'manifest-pass-env-bad-name',
      (m) => json({ ...m, run: { passEnv: ['NPM AUTH'] } }),
      /run\.passEnv\[0\]: must be an environment variable name, got "NPM AUTH"/,
    ),
    one(
      'manifest-pass-env-not-array',
      (m) => json({ ...m, run: { passEnv: 'NPM_AUTH' } }),
      /run\.passEnv: must be an array, got a string/,
    ),
  ];
}

describe('untrusted paths and non-files: exit 2, named file and problem, nothing written or read outside', () => {
  it.each(CASES.map((c) => [c.id, c] as const))('%s', async (id, c) => {
    const d = dirsFor(caseDir(root, id));
    const s = c.setup(d);
    const before = new Map((s.keep ?? []).map((f) => [f, snapshot(f)]));
    const r = s.process
      ? await cliProcess(s.args, { timeoutMs: 60_000 }) // (its cwd is the repository: tsx)
      : await cli(s.args, { cwd: d.dir });
    if (process.env.BAD_INPUTS_SHOW) console.log(id, r.code, r.stderr);
    expectCleanFailure(r, {
      code: 2,
      file: s.file,
      problem: c.problem,
      noFilesUnder: [join(d.dir, 'out'), ...(s.empty ?? [])],
    });
    // Nothing planted outside was added to, nothing the command reads was overwritten.
    expect(filesIn(d.outside).filter((f) => !f.endsWith('secret.png') && f !== 'g.json')).toEqual([]);
    for (const [f, was] of before) expect(snapshot(f), `${f} must be unchanged`).toEqual(was);
    expect(r.stderr.length).toBeLessThan(4000);
  });

  it('the good trace blesses with its screenshot, and judges against that golden (each case differs in one defect)', async () => {
    const d = dirsFor(caseDir(root, 'good'));
    writePng(join(d.run, 'home.png'));
    const t = withShot(d, 'home.png');
    const b = await cli(bless(t, d), { cwd: d.dir });
    expect(b.stderr).toBe('');
    expect(b.code).toBe(0);
    expect(statSync(join(d.golden, `${SCENARIO}.screenshots`, 'home.png')).isFile()).toBe(true);
    const j = await cli(judge(t, d), { cwd: d.dir });
    expect(j.code, j.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(d.dir, 'out', 'judgement.json'), 'utf8')).decision).toBe('continue');
  });
});

function filesIn(dir: string): string[] {
  try {
    return execFileSync('find', [dir, '-mindepth', '1', '-not', '-type', 'd', '-printf', '%P\n'], {
      encoding: 'utf8',
    })
      .split('\n')
      .filter(Boolean);
  } catch {
    return [];
  }
}

/** A file's identity and content (a FIFO by its type: reading it would block). */
function snapshot(path: string): string {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) return 'missing';
  if (st.isFIFO()) return 'fifo';
  let link = '';
  try {
    link = readlinkSync(path);
  } catch {}
  return `${link}|${readFileSync(path, 'utf8')}`;
}
