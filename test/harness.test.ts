import { describe, expect, it } from 'vitest';
import { useTestDatabase } from './helpers/db.js';

describe('test Postgres harness', () => {
  const db = useTestDatabase();
  const other = useTestDatabase();

  it('gives each user its own fresh database on a real server', async () => {
    const { rows } = await db.query<{ version: string; db: string }>(
      'select version() as version, current_database() as db',
    );
    expect(rows[0]!.version).toMatch(/^PostgreSQL \d+/);
    expect(rows[0]!.db).toBe(db.name);
    expect(other.name).not.toBe(db.name);
    await db.query('create table only_here (id int)');
    const seen = await other.query(`select count(*)::int as n from pg_tables where tablename = 'only_here'`);
    expect(seen.rows[0]!.n).toBe(0);
  });
});
