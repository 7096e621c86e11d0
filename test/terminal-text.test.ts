/**
 * Control characters from data never reach the terminal: every CLI output goes through
 * terminalSafe, which shows them as \uXXXX (the same value inside a JSON string).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REDRAW, terminalSafe } from '../src/cli/terminal-text.js';
import { cli } from './helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'terminal-text-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

describe('terminal output', () => {
  it('escapes C0, DEL and C1 characters, keeps tab, newline and the progress redraw', () => {
    expect(terminalSafe('a\u001b[2Jb\u009b31mc\u007f\td\n')).toBe('a\\u001b[2Jb\\u009b31mc\\u007f\td\n');
    expect(terminalSafe(`${REDRAW}42 rows`)).toBe(`${REDRAW}42 rows`);
    expect(terminalSafe('plain text')).toBe('plain text');
  });

  it('doctor: escape sequences in a manifest reach the terminal escaped', async () => {
    const hostile = 'app \u001b]0;pwned\u0007 \u009b2J end';
    const app = join(dir, 'app.json');
    writeFileSync(
      app,
      JSON.stringify({
        appId: hostile,
        adapter: 'postgres-subject-graph.v1',
        subjectKeys: ['tenant_id'],
        postgres: { tables: [{ name: 'users' }] },
      }),
    );
    const r = await cli(['doctor', '--app', app]);
    expect(r.stdout).toContain('app \\u001b]0;pwned\\u0007 \\u009b2J end');
    expect(r.stdout).not.toMatch(RAW_CONTROL);
    expect(r.stderr).not.toMatch(RAW_CONTROL);
  });
});
