/**
 * Bad-input corpus, GitHub Action side: malformed inputs as the runner passes them (INPUT_<NAME>
 * environment variables) through the Action's own front door (src/action/main.ts, what
 * dist/index.js runs), in a child process. Each must fail the step (exit 1, GitHub's failure
 * code: the Action has no exit 2) with one `::error::` naming the input or file and the problem, no
 * stack trace, and nothing written: no step outputs, no summary, no judgements directory.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';
import { expectCleanFailure, fixture } from './harness.js';

const RUNNER = fileURLToPath(new URL('./action-runner.ts', import.meta.url));
const SCENARIOS_FILE = join(REPO_ROOT, 'loops', 'user-history-replay', 'scenarios.yaml');

interface Case {
  id: string;
  /** Inputs by their action.yml name. */
  inputs: Record<string, string>;
  /** What the message must name: the input (`input "shard"`) or the file. */
  names: string;
  problem: RegExp;
}

const CASES: Case[] = [
  {
    id: 'shard-zero',
    inputs: { shard: '0/4', scenarios: 'all' },
    names: 'input "shard"',
    problem: /must look like 2\/4/,
  },
  {
    id: 'shard-over',
    inputs: { shard: '5/4', scenarios: 'all' },
    names: 'input "shard"',
    problem: /\(got "5\/4"\)/,
  },
  {
    id: 'shard-word',
    inputs: { shard: 'half', scenarios: 'all' },
    names: 'input "shard"',
    problem: /\(got "half"\)/,
  },
  {
    id: 'shard-without-scenarios',
    inputs: { shard: '1/2' },
    names: 'input "shard"',
    problem: /needs "scenarios"/,
  },
  {
    id: 'timeout-word',
    inputs: { 'database-timeout-seconds': 'soon' },
    names: 'input "database-timeout-seconds"',
    problem: /must be a positive whole number of seconds \(got "soon"\)/,
  },
  {
    id: 'timeout-negative',
    inputs: { 'database-timeout-seconds': '-5' },
    names: 'input "database-timeout-seconds"',
    problem: /\(got "-5"\)/,
  },
  {
    id: 'rewrite-subject-not-key-value',
    inputs: { 'rewrite-subject': 'tenant_id=acme, user_id' },
    names: 'input "rewrite-subject"',
    problem: /"user_id" is not key=value/,
  },
  {
    id: 'rewrite-subject-empty-key',
    inputs: { 'rewrite-subject': '=acme' },
    names: 'input "rewrite-subject"',
    problem: /"=acme" is not key=value/,
  },
  {
    id: 'load-strategy-unknown',
    inputs: { 'load-strategy': 'bulk' },
    names: 'input "load-strategy"',
    problem: /must be jsonb or copy \(got "bulk"\)/,
  },
  {
    id: 'fail-on-unknown',
    inputs: { 'fail-on': 'sometimes' },
    names: 'input "fail-on"',
    problem: /must be block, warn or never/,
  },
  {
    id: 'capsule-run-id-not-number',
    inputs: { 'capsule-artifact': 'capsule', 'capsule-run-id': 'latest' },
    names: 'input "capsule-run-id"',
    problem: /must be a workflow run id \(a number\)/,
  },
  {
    id: 'mode-unknown',
    inputs: { mode: 'judge' },
    names: 'input "mode"',
    problem: /must be run or aggregate/,
  },
  {
    id: 'scenario-and-scenarios',
    inputs: { scenario: 'a', scenarios: 'b' },
    names: 'inputs "scenario" and "scenarios"',
    problem: /are exclusive/,
  },
  {
    id: 'unknown-scenario',
    inputs: { scenarios: 'no-such-scenario', 'scenarios-file': SCENARIOS_FILE },
    names: SCENARIOS_FILE,
    problem: /input "scenarios": "no-such-scenario" not in .* \(known: /,
  },
  {
    id: 'missing-manifest-path',
    inputs: { app: '' },
    names: 'input "app"',
    problem: /is required \(the path of the replay manifest\)/,
  },
  {
    id: 'manifest-not-found',
    inputs: { app: fixture('no-such-manifest.json') },
    names: fixture('no-such-manifest.json'),
    problem: /manifest not found/,
  },
  {
    id: 'manifest-invalid',
    inputs: { app: fixture('manifest-wrong-type.json') },
    names: fixture('manifest-wrong-type.json'),
    problem: /subjectKeys: must be an array, got a string/,
  },
];

let root = '';
let results: Map<string, { code: number; stdout: string; stderr: string }>;

const caseEnv = (c: Case) => {
  const dir = join(root, c.id);
  mkdirSync(join(dir, 'workspace'), { recursive: true });
  writeFileSync(join(dir, 'event.json'), '{}');
  writeFileSync(join(dir, 'output.txt'), '');
  writeFileSync(join(dir, 'summary.md'), '');
  const inputs: Record<string, string> = {
    app: fixture('app.json'),
    capsule: fixture('capsule-good.json'),
    comment: 'off',
    'trace-artifact': 'none',
    'database-url': 'postgres://postgres@127.0.0.1:1/none',
    'database-timeout-seconds': '1',
    'judgements-dir': join(dir, 'judgements'),
    ...c.inputs,
  };
  const env: Record<string, string> = {
    GITHUB_ACTIONS: 'true',
    GITHUB_WORKSPACE: join(dir, 'workspace'),
    GITHUB_REPOSITORY: 'acme/shop',
    GITHUB_SHA: 'f'.repeat(40),
    GITHUB_RUN_ID: '1',
    GITHUB_EVENT_NAME: 'push',
    GITHUB_EVENT_PATH: join(dir, 'event.json'),
    GITHUB_API_URL: 'http://127.0.0.1:9',
    GITHUB_OUTPUT: join(dir, 'output.txt'),
    GITHUB_STEP_SUMMARY: join(dir, 'summary.md'),
    RUNNER_TEMP: join(dir, 'runner-temp'),
  };
  // The runner's naming: INPUT_ + upper case, spaces to "_", hyphens kept.
  for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.replace(/ /g, '_').toUpperCase()}`] = v;
  return env;
};

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'bad-action-inputs-'));
  const spec = CASES.map((c) => ({ id: c.id, env: caseEnv(c) }));
  const r = spawnSync(process.execPath, ['--import', 'tsx', RUNNER, JSON.stringify(spec)], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 120_000,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? root, CI: 'true' },
  });
  if (r.status !== 0) throw new Error(`action runner failed (${r.status}): ${r.stderr}`);
  const last = r.stdout.trim().split('\n').pop()!;
  results = new Map(
    (JSON.parse(last) as { id: string; code: number; stdout: string; stderr: string }[]).map((x) => [
      x.id,
      x,
    ]),
  );
}, 120_000);
afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('bad Action inputs: the step fails with one ::error:: naming the input, nothing written', () => {
  it.each(CASES.map((c) => [c.id, c] as const))('%s', (id, c) => {
    const r = results.get(id)!;
    const errors = r.stdout.split('\n').filter((l) => l.startsWith('::error'));
    expect(errors, r.stdout).toHaveLength(1);
    const dir = join(root, id);
    expectCleanFailure(
      { code: r.code, stdout: r.stdout, stderr: errors[0]! },
      {
        code: 1,
        file: c.names,
        problem: c.problem,
        outputs: [join(dir, 'judgements')],
        // The Action creates its scratch directory before reading the manifest: no file in it.
        noFilesUnder: [join(dir, 'runner-temp')],
      },
    );
    expect(readFileSync(join(dir, 'output.txt'), 'utf8')).toBe('');
    // A failure once the step has started reporting says so in the job summary ("could not judge
    // this commit", docs/action.md) — never a verdict.
    const summary = readFileSync(join(dir, 'summary.md'), 'utf8');
    if (summary !== '') {
      expect(summary).toMatch(/could not judge this commit/);
      expect(summary).not.toMatch(/CONTINUE|WARN\b/);
    }
    expect(existsSync(join(dir, 'workspace', '.replay'))).toBe(false);
  });
});
