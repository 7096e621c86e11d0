import { describe, expect, it } from 'vitest';
import { VERSION } from '../src/version.js';
import { cli } from './helpers/cli.js';

describe('replay-env CLI', () => {
  it('prints its version', async () => {
    const r = await cli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(VERSION);
    expect(VERSION).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('lists every product command in --help', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    for (const c of [
      'init',
      'doctor',
      'export-postgres',
      'inspect',
      'materialize-postgres',
      'run',
      'judge',
      'bless',
      'playbook',
      'demo',
      'keygen',
    ]) {
      expect(r.stdout).toContain(c);
    }
  });

  it('exits 2 on an unknown command or option, without a stack trace', async () => {
    const r = await cli(['no-such-command']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
