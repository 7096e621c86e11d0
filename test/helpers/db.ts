/**
 * A fresh database per test file on the shared test server:
 *
 *   const db = useTestDatabase();            // in the file's top level
 *   it('…', async () => { await db.query('select 1'); db.url; });
 *
 * `db.create()` makes further empty databases (e.g. a source and a target).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, inject } from 'vitest';

export function adminUrl(): string {
  return inject('pgAdminUrl');
}

export function urlForDatabase(base: string, database: string): string {
  const u = new URL(base);
  u.pathname = `/${database}`;
  return u.toString();
}

export async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function createDatabase(prefix = 't'): Promise<string> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`.toLowerCase();
  await withClient(adminUrl(), (c) =>
    c.query(`create database "${name}" template template0 encoding 'UTF8'`),
  );
  return name;
}

export async function dropDatabase(name: string): Promise<void> {
  await withClient(adminUrl(), (c) => c.query(`drop database if exists "${name}" with (force)`));
}

export interface TestDatabase {
  /** URL of this file's own database. */
  readonly url: string;
  readonly name: string;
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    sql: string,
    params?: unknown[],
  ): Promise<pg.QueryResult<R>>;
  /** Run a SQL file (e.g. a schema) in this database. */
  runFile(path: string): Promise<void>;
  /** Another fresh, empty database, dropped with this one. Returns its URL. */
  create(prefix?: string): Promise<string>;
}

export function useTestDatabase(prefix = 't'): TestDatabase {
  let name = '';
  const extra: string[] = [];
  const db: TestDatabase = {
    get url() {
      if (!name)
        throw new Error('useTestDatabase(): the database is created in beforeAll; use it inside a test');
      return urlForDatabase(adminUrl(), name);
    },
    get name() {
      return name;
    },
    query: (sql, params) => withClient(db.url, (c) => c.query(sql, params)),
    runFile: (path) => withClient(db.url, async (c) => void (await c.query(readFileSync(path, 'utf8')))),
    async create(p = prefix) {
      const n = await createDatabase(p);
      extra.push(n);
      return urlForDatabase(adminUrl(), n);
    },
  };
  beforeAll(async () => {
    name = await createDatabase(prefix);
  });
  afterAll(async () => {
    for (const n of [name, ...extra]) if (n) await dropDatabase(n);
  });
  return db;
}
