import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { VERSION } from '../src/version.js';

const ROOT = join(import.meta.dirname, '..');
const LAUNCHER = join(ROOT, 'bin', 'replay-env.js');
const built = existsSync(join(ROOT, 'lib', 'cli', 'main.js'));

// The launcher's shebang passes node flags (`env -S`); this runs it the way npm's bin link does.
describe.skipIf(!built || process.platform === 'win32')('bin/replay-env.js launcher', () => {
  it('starts as an executable and runs node with the young-generation cap', () => {
    const r = spawnSync(LAUNCHER, ['--version'], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(VERSION);
  });

  it("caps the young generation on node's command line (bench/RESULTS.md: peak RSS)", () => {
    const shebang = readFileSync(LAUNCHER, 'utf8').split('\n')[0];
    expect(shebang).toMatch(/^#!\/usr\/bin\/env -S node --max-semi-space-size=\d+$/);
  });
});
