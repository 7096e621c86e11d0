/**
 * Ctrl-C / SIGTERM during export cancels the query on the source (production) database before the
 * process exits: pg_stat_activity shows no export query left running. Closing the socket alone
 * left a long query (here a table whose `where` sleeps 60 s) running on the server.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { watchChild } from './helpers/child.js';
import { REPO_ROOT } from './helpers/cli.js';
import { useTestDatabase, withClient } from './helpers/db.js';

const db = useTestDatabase('export_cancel');
const EXAMPLE = join(REPO_ROOT, 'examples/socialapp');
const ENTRY = fileURLToPath(new URL('./helpers/cli-entry.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'export-cancel-'));

/** Export queries of this database still running (not idle) on the server (query texts are truncated in pg_stat_activity: matched by application_name). */
async function runningExportQueries(): Promise<number> {
  return withClient(db.url, async (c) => {
    const r = await c.query<{ n: number }>(
      `select count(*)::int as n from pg_stat_activity
        where datname = current_database() and pid <> pg_backend_pid() and state = 'active'
          and application_name = 'replay-env export'`,
    );
    return r.rows[0]!.n;
  });
}

async function until(cond: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return cond();
}

let app: string;
beforeAll(async () => {
  await db.runFile(join(EXAMPLE, 'schema.sql'));
  await db.runFile(join(EXAMPLE, 'seed.sql'));
  const m = JSON.parse(readFileSync(join(REPO_ROOT, 'config/apps/socialapp.json'), 'utf8'));
  m.$schema = undefined;
  m.repoPath = EXAMPLE;
  const reactions = m.postgres.tables.find((t: { name: string }) => t.name === 'reactions');
  reactions.where = 'pg_sleep(60) is not null';
  app = join(dir, 'slow.json');
  writeFileSync(app, JSON.stringify(m, null, 2));
}, 60_000);

describe('export cancels its source query when interrupted', () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal}: the query is gone from pg_stat_activity when the process has exited`, {
      timeout: 60_000,
    }, async () => {
      const out = join(dir, `${signal}.json`);
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          ENTRY,
          'export-postgres',
          '--app',
          app,
          '--subject',
          'tenant_id=acme',
          '--subject',
          'user_id=ada',
          '--out',
          out,
          '--db-url',
          db.url,
        ],
        { cwd: REPO_ROOT, env: { ...process.env, CI: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      const watched = watchChild(child, 50_000);
      const seen = await until(async () => (await runningExportQueries()) > 0, 30_000);
      expect(seen, `export never ran its query: ${watched.stderr()} ${watched.stdout()}`).toBe(true);
      child.kill(signal);
      const exited = await watched.exited;
      expect(exited.code, exited.stderr).toBe(signal === 'SIGINT' ? 130 : 143);
      expect(exited.stderr).toMatch(/export interrupted; no capsule was written/);
      // The cancel was awaited before exit: nothing of the export is still running.
      expect(await runningExportQueries()).toBe(0);
    });
  }
});
