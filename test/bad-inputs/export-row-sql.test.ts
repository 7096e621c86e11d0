/**
 * A bad `rowSql` is named by its manifest entry (`postgres.tables[i] (name)`) whichever export
 * phase meets it first: referential closure (on by default) or the table's own query.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';
import { useTestDatabase } from '../helpers/db.js';

const db = useTestDatabase('rowsql');
let dir = '';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rowsql-'));
  await db.query(`
    create table accounts (id text primary key, tenant_id text not null);
    create table notes (id bigint primary key, tenant_id text not null, account_id text references accounts (id));
    insert into accounts values ('a1', 'acme');
    insert into notes values (1, 'acme', 'a1');
  `);
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function manifest(tables: Record<string, unknown>[], closure: boolean): string {
  const path = join(dir, `app-${closure}-${tables.length}.json`);
  writeFileSync(
    path,
    JSON.stringify({
      appId: 'rowsql',
      adapter: 'postgres-subject-graph.v1',
      subjectKeys: ['tenant_id'],
      postgres: { tableOrder: ['accounts', 'notes'], tables, closure: { enabled: closure } },
    }),
  );
  return path;
}

describe('export: a bad rowSql names its table entry', () => {
  it.each([true, false])(
    'closure %s: exit 1, postgres.tables[1] (notes) and the database error',
    async (closure) => {
      const app = manifest([{ name: 'accounts' }, { name: 'notes', rowSql: 'no_such_function(t)' }], closure);
      const out = join(dir, `capsule-${closure}.json`);
      const r = await cli([
        'export-postgres',
        '--app',
        app,
        '--subject',
        'tenant_id=acme',
        '--db-url',
        db.url,
        '--out',
        out,
      ]);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/postgres\.tables\[1\] \(notes\)[^\n]*no_such_function/);
      expect(r.stderr).not.toContain('unexpected error');
    },
  );
});
