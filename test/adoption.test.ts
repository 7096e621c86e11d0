/**
 * From a new repository to its first gate (issue: loud empties, fixes that point to the fix, one
 * JSON shape): what a new user or a coding agent meets on the way, each case as they meet it.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { cli, REPO_ROOT } from './helpers/cli.js';
import { useTestDatabase } from './helpers/db.js';

const db = useTestDatabase('adopt');
const EXAMPLE = join(REPO_ROOT, 'examples/socialapp');
const APP = join(REPO_ROOT, 'config/apps/socialapp.json');
const dir = mkdtempSync(join(tmpdir(), 'replay-adopt-'));
const errorSchema = JSON.parse(readFileSync(join(REPO_ROOT, 'schema/cli-error.schema.json'), 'utf8'));
const validateError = new Ajv2020({ strict: false }).compile(errorSchema);

/** The one JSON document a failing --json command printed, validated against its schema. */
function errorDoc(r: { code: number; stdout: string }) {
  const doc = JSON.parse(r.stdout);
  expect(validateError(doc), JSON.stringify(validateError.errors)).toBe(true);
  expect(doc.exitCode).toBe(r.code);
  return doc;
}

describe('--json: every outcome is one JSON document on stdout', () => {
  it('a usage error (unknown flag) is {error: {code: usage, field}} with exit 2', async () => {
    const r = await cli(['inspect', 'x.json', '--json', '--no-such-flag']);
    expect(r.code).toBe(2);
    const doc = errorDoc(r);
    expect(doc.error.code).toBe('usage');
    expect(doc.error.field).toBe('--no-such-flag');
  });

  it('bad input names the field; the text still goes to stderr', async () => {
    const r = await cli(['export-postgres', '--app', APP, '--out', join(dir, 'x.json'), '--json']);
    expect(r.code).toBe(2);
    const doc = errorDoc(r);
    expect(doc.error).toMatchObject({ code: 'bad_input', field: '--subject' });
    expect(doc.error.message).toMatch(/missing subject: --subject tenant_id=<value>/);
    expect(r.stderr).toMatch(/missing subject/);
  });

  it('judge --format json on a missing trace fails as JSON too', async () => {
    const r = await cli(['judge', '--trace', join(dir, 'nope.json'), '--format', 'json']);
    expect(r.code).toBe(2);
    expect(errorDoc(r).error.code).toBe('bad_input');
  });

  it('without --json, stdout stays empty on failure', async () => {
    const r = await cli(['inspect', join(dir, 'nope.json')]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
  });
});

describe('loud empties', () => {
  it('export warns for every declared table it exported empty, naming --since-days when a window applies', async () => {
    await db.runFile(join(EXAMPLE, 'schema.sql'));
    await db.runFile(join(EXAMPLE, 'seed.sql'));
    // fay's only message is 2 days old: a 1-day window exports her user row and nothing else.
    const out = join(dir, 'fay.json');
    const r = await cli([
      'export-postgres',
      '--app',
      APP,
      '--subject',
      'tenant_id=globex',
      '--subject',
      'user_id=fay',
      '--since-days',
      '1',
      '--db-url',
      db.url,
      '--out',
      out,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout);
    const warned = result.warnings.filter((w: { code: string }) => w.code === 'empty_table');
    expect(warned.map((w: { table: string }) => w.table).sort()).toEqual(['messages', 'reactions']);
    for (const w of warned) expect(w.windowed).toBe(true);
    expect(r.stderr).toMatch(/warning: table messages: 0 rows exported; .*--since-days/);
    expect(r.stderr).not.toMatch(/warning: table users/);
  });
});

describe('playbook: steps run as printed from the repository root', () => {
  it('prints the golden directory as it resolves from the working directory, and the --create-schema way', async () => {
    const r = await cli(['playbook', '--app', 'config/apps/socialapp.json'], { cwd: REPO_ROOT });
    expect(r.code, r.stderr).toBe(0);
    // The manifest says ../../examples/socialapp/golden (relative to config/apps/).
    const judgeLine = r.stdout.split('\n').find((l) => l.includes('replay-env judge'));
    const golden = /--golden (\S+)/.exec(judgeLine ?? '')?.[1];
    expect(golden).toBe('examples/socialapp/golden');
    expect(existsSync(resolve(REPO_ROOT, golden!))).toBe(true);
    // Setup commands run in the app's directory (repoPath), from the root.
    expect(r.stdout).toContain('(cd examples/socialapp && node migrate.mjs schema.sql)');
    expect(r.stdout).toMatch(/--create-schema/);
    expect(r.stdout).not.toMatch(/capsules\/\*\* is ignored/);
  });

  it('from another directory the same paths still resolve', async () => {
    const r = await cli(['playbook', '--app', APP, '--json'], { cwd: join(REPO_ROOT, 'docs') });
    expect(r.code, r.stderr).toBe(0);
    const steps = JSON.parse(r.stdout).steps as { commands: string[] }[];
    const judge = steps.flatMap((s) => s.commands).find((c) => c.includes('replay-env judge'))!;
    const golden = /--golden (\S+)/.exec(judge)![1]!;
    expect(resolve(REPO_ROOT, 'docs', golden)).toBe(join(EXAMPLE, 'golden'));
  });
});
