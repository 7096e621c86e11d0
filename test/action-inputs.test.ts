/**
 * The Action's contract: action.yml inputs/outputs, reading inputs into validated settings (bad
 * input names the input), shard selection, and the example workflows only pass inputs that exist.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { readSettings } from '../src/action/inputs.js';
import { failsStep } from '../src/action/run-action.js';
import { selectScenarios } from '../src/action/scenarios.js';
import { DEFAULT_DATABASE_URL, INPUT_NAMES } from '../src/action/settings.js';
import { REPO_ROOT } from './helpers/cli.js';

const action = parse(readFileSync(join(REPO_ROOT, 'action.yml'), 'utf8'));
const inputs = (values: Record<string, string>) => (name: string) => values[name] ?? '';

describe('action.yml', () => {
  it('runs dist/index.js on node24 and declares exactly the inputs the Action reads', () => {
    expect(action.runs).toEqual({ using: 'node24', main: 'dist/index.js' });
    expect(Object.keys(action.inputs).sort()).toEqual([...INPUT_NAMES].sort());
    expect(Object.keys(action.outputs).sort()).toEqual(
      ['check-run-id', 'comment-url', 'decision', 'judgement-path', 'trace-path'].sort(),
    );
    expect(action.inputs['database-url'].default).toBe(DEFAULT_DATABASE_URL);
  });

  it('the example workflows pass only declared inputs to the Action', () => {
    const dir = join(REPO_ROOT, '.github/workflows');
    let uses = 0;
    for (const file of readdirSync(dir).filter((f) => f.startsWith('replay-'))) {
      const wf = parse(readFileSync(join(dir, file), 'utf8'));
      for (const job of Object.values(wf.jobs) as { steps: { uses?: string; with?: object }[] }[]) {
        for (const step of job.steps) {
          if (step.uses !== './') continue;
          uses++;
          for (const key of Object.keys(step.with ?? {}))
            expect(INPUT_NAMES, `${file}: ${key}`).toContain(key);
        }
      }
    }
    expect(uses).toBeGreaterThanOrEqual(4);
  });
});

describe('reading inputs', () => {
  it('applies the documented defaults', () => {
    const s = readSettings(inputs({ app: 'replay.manifest.json', capsule: 'c.json' }));
    expect(s).toMatchObject({
      mode: 'run',
      databaseUrl: DEFAULT_DATABASE_URL,
      databaseTimeoutSeconds: 60,
      loadStrategy: 'copy',
      comment: true,
      failOn: 'block',
      useLocalSubject: false,
      createSchema: false,
      rewriteSubject: {},
    });
  });

  it('parses lists, shards and key=value pairs', () => {
    const s = readSettings(
      inputs({
        app: 'a.json',
        scenarios: 'b, a\nc',
        shard: '2/3',
        'rewrite-subject': 'tenant_id=t1\nuser_id=u1',
        comment: 'off',
      }),
    );
    expect(s.scenarios).toEqual(['b', 'a', 'c']);
    expect(s.shard).toEqual({ index: 2, total: 3 });
    expect(s.rewriteSubject).toEqual({ tenant_id: 't1', user_id: 'u1' });
    expect(s.comment).toBe(false);
  });

  it('names every bad input in one message', () => {
    let message = '';
    try {
      readSettings(
        inputs({ app: 'a.json', 'fail-on': 'sometimes', shard: '0/2', 'database-timeout-seconds': 'soon' }),
      );
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('input "fail-on" must be block, warn or never (got "sometimes")');
    expect(message).toContain('input "shard" must look like 2/4');
    expect(message).toContain('input "database-timeout-seconds" must be a positive whole number of seconds');
    expect(() => readSettings(inputs({ app: 'a.json', 'capsule-run-id': '12' }))).toThrow(
      /"capsule-run-id".*need "capsule-artifact"/,
    );
    expect(() => readSettings(inputs({ capsule: 'c.json' }))).toThrow(/input "app" is required/);
    expect(() => readSettings(inputs({ mode: 'aggregate' }))).toThrow(/"judgements-dir" is required/);
    expect(() => readSettings(inputs({ app: 'a', capsule: 'x', 'capsule-artifact': 'y' }))).toThrow(
      /exclusive/,
    );
  });
});

describe('fail-on', () => {
  it('block fails on block only; warn on warn and block; never never', () => {
    expect([failsStep('block', 'block'), failsStep('warn', 'block'), failsStep('continue', 'block')]).toEqual(
      [true, false, false],
    );
    expect([failsStep('block', 'warn'), failsStep('warn', 'warn'), failsStep('continue', 'warn')]).toEqual([
      true,
      true,
      false,
    ]);
    expect(failsStep('block', 'never')).toBe(false);
  });
});

describe('shards', () => {
  const registry = ['e', 'a', 'c', 'b', 'd'].map((id) => ({ id }));
  it('every scenario lands in exactly one shard, the same one on every run', () => {
    const shards = [1, 2, 3].map((index) =>
      selectScenarios(registry, 'all', { index, total: 3 }, 's.yaml').map((s) => s.id),
    );
    expect(shards).toEqual([['a', 'd'], ['b', 'e'], ['c']]);
    expect(shards.flat().sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
  });
  it('an unknown scenario id is named with the known ones', () => {
    expect(() => selectScenarios(registry, ['a', 'zz'], undefined, 's.yaml')).toThrow(
      /"zz" not in s.yaml \(known: e, a, c, b, d\)/,
    );
  });
});
