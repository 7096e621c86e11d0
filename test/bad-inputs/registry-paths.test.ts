/**
 * Bad-input corpus, the Action's scenario registry: scenarios.yaml comes from the checked-out
 * repository (possibly a pull request's), so the capsule and golden paths it names must stay in the
 * workspace. An absolute path, a `..` out of it or a symlink out of it is refused with an error that
 * names the registry file, the scenario and the field, and never the path's target.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registryPath } from '../../src/action/scenarios.js';
import { InputError } from '../../src/errors.js';

let root = '';
let workspace = '';
let outside = '';

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'replay-registry-paths-'));
  workspace = join(root, 'workspace');
  outside = join(root, 'outside');
  mkdirSync(join(workspace, 'golden'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret.golden.json'), '{}');
  writeFileSync(join(workspace, 'golden', 'ok.golden.json'), '{}');
  symlinkSync(outside, join(workspace, 'escape'));
});
afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('scenario registry paths in the Action', () => {
  it('resolves a relative path inside the workspace', () => {
    expect(registryPath(workspace, 'scenarios.yaml', 'a', 'golden', 'golden/ok.golden.json')).toBe(
      join(workspace, 'golden', 'ok.golden.json'),
    );
    // Not yet blessed: a missing file inside the workspace is fine (judged as golden missing).
    expect(registryPath(workspace, 'scenarios.yaml', 'a', 'golden', 'golden/new.golden.json')).toBe(
      join(workspace, 'golden', 'new.golden.json'),
    );
  });

  it.each([
    ['absolute', () => join(outside, 'secret.golden.json')],
    ['dot-dot', () => '../outside/secret.golden.json'],
    ['dot-dot inside the path', () => 'golden/../../outside/secret.golden.json'],
    ['symlink out', () => 'escape/secret.golden.json'],
    ['NUL byte', () => 'golden/ok.golden.json\0'],
  ])('refuses a %s path, naming file, scenario and field', (_name, value) => {
    for (const field of ['golden', 'capsule.path'] as const) {
      let err: unknown;
      try {
        registryPath(workspace, 'loops/scenarios.yaml', 'ada-timeline', field, value());
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(InputError);
      const message = (err as Error).message;
      expect(message).toContain('loops/scenarios.yaml');
      expect(message).toContain('"ada-timeline"');
      expect(message).toContain(`${field} must be a path inside the workspace`);
      expect(message).not.toContain('outside');
      expect((err as InputError).exitCode).toBe(2);
    }
  });
});
