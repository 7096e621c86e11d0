import { describe, expect, it } from 'vitest';
import type { Row } from '../src/capsule/schema.js';
import { ClosureCollector, type ClosureConfig } from '../src/postgres/export/closure.js';
import { createSchemaFromCapsule } from '../src/postgres/schema/create-schema.js';
import { foreignKeyAncestors, readSchemaSection } from '../src/postgres/schema/ddl.js';
import { parseExact, stringifyExact } from '../src/util/exact-json.js';
import { useTestDatabase, withClient } from './helpers/db.js';

const db = useTestDatabase('closure');

const SCHEMA = `
  create table countries (code text primary key, name text not null);
  create table places (id bigint primary key, country text not null references countries (code), name text);
  create table users (id bigint primary key, place_id bigint references places (id), name text not null);
  create table posts (id bigint primary key, author_id bigint not null references users (id), title text);
  create table comments (
    id bigint primary key,
    post_id bigint not null references posts (id),
    author_id bigint not null references users (id),
    reply_to bigint references comments (id),
    body text
  );
  create table audit (id int primary key, user_id bigint references users (id));
  insert into countries values ('DE', 'Germany'), ('FR', 'France'), ('IT', 'Italy');
  insert into places values (1, 'DE', 'Berlin'), (2, 'FR', 'Paris'), (3, 'IT', 'Rome');
  insert into users values (10, 1, 'subject'), (11, 2, 'poster'), (12, null, 'replied-to'), (13, 3, 'nobody');
  insert into posts values (100, 11, 'by poster'), (101, 10, 'by subject');
  insert into comments values
    (1000, 100, 12, null, 'root by 12'),
    (1001, 100, 10, 1000, 'subject replies to 12'),
    (1002, 101, 10, null, 'on own post');
  insert into audit values (1, 13);
`;

function config(over: Partial<ClosureConfig> = {}): ClosureConfig {
  return { enabled: true, maxRows: 1000, exclude: new Set(), noFollow: new Set(), ...over };
}

async function exported(sql: string): Promise<Row[]> {
  return withClient(db.url, async (c) => {
    const r = await c.query<{ j: string }>(`select to_jsonb(t)::text as j from (${sql}) t`);
    return r.rows.map((x) => parseExact(x.j) as Row);
  });
}

/** What the exporter would stream for subject user 10: the user, their comments. */
async function collect(cfg: ClosureConfig) {
  const users = await exported('select * from users where id = 10');
  const comments = await exported('select * from comments where author_id = 10');
  return withClient(db.url, async (c) => {
    await c.query('begin isolation level repeatable read read only');
    const collector = await ClosureCollector.create(c, ['users', 'comments'], cfg);
    for (const r of users) collector.addRow('users', r);
    for (const r of comments) collector.addRow('comments', r);
    const result = await collector.resolve(c);
    await c.query('commit');
    return { result, users, comments };
  });
}

const ids = (rows: Row[] | undefined, key = 'id') => (rows ?? []).map((r) => String(r[key])).sort();

describe('referential closure', () => {
  it('pulls in parents recursively, also from undeclared tables, skipping exported rows', async () => {
    await db.query(SCHEMA);
    const { result } = await collect(config());
    // comment 1001 replies to 1000 (self FK), 1000 sits on post 100 by user 11, and was written by 12.
    expect(ids(result.rows.get('comments'))).toEqual(['1000']);
    expect(ids(result.rows.get('posts'))).toEqual(['100', '101']);
    expect(ids(result.rows.get('users'))).toEqual(['11', '12']); // not 10: it is exported
    expect(ids(result.rows.get('places'))).toEqual(['1', '2']);
    expect(ids(result.rows.get('countries'), 'code')).toEqual(['DE', 'FR']);
    expect(result.rows.has('audit')).toBe(false); // children are never pulled in
    expect(result.section.addedTables.sort()).toEqual(['countries', 'places', 'posts']);
    expect(result.section.totalRows).toBe(9);
    expect(result.section.tables.users).toEqual({
      rows: 2,
      reasons: { 'fk:comments_author_id_fkey': 1, 'fk:posts_author_id_fkey': 1 },
    });
    expect(result.section.tables.places?.reasons).toEqual({ 'fk:users_place_id_fkey': 2 });
    expect(result.section.missing).toEqual({});
  });

  it('makes a capsule that loads into an empty schema with every foreign key enforced', async () => {
    const { result, users, comments } = await collect(config());
    const all = new Map<string, Row[]>([
      ['users', [...users, ...(result.rows.get('users') ?? [])]],
      ['comments', [...comments, ...(result.rows.get('comments') ?? [])]],
    ]);
    for (const [t, rows] of result.rows) if (!all.has(t)) all.set(t, rows);
    const tables = await withClient(db.url, (c) => foreignKeyAncestors(c, ['users', 'comments']));
    const section = await withClient(db.url, (c) => readSchemaSection(c, tables));
    expect(section.omittedForeignKeys).toEqual([]);
    const target = await db.create('closure_target');
    await withClient(target, async (c) => {
      await c.query('begin');
      const created = await createSchemaFromCapsule(c, section);
      for (const [t, rows] of all)
        await c.query(`insert into ${t} select * from jsonb_populate_recordset(null::${t}, $1::jsonb)`, [
          stringifyExact(rows),
        ]);
      await created.finish(); // adds the FKs: validates every loaded row
      await c.query('commit');
      const fks = await c.query<{ n: number }>(
        "select count(*)::int as n from pg_constraint where contype = 'f' and convalidated",
      );
      expect(fks.rows[0]!.n).toBe(6);
      const n = await c.query<{ n: number }>('select count(*)::int as n from users');
      expect(n.rows[0]!.n).toBe(3);
    });
  });

  it('aborts with a clear message above the row cap', async () => {
    await expect(collect(config({ maxRows: 4 }))).rejects.toThrow(
      /referential closure would add more than 4 rows.*postgres\.closure\.maxRows/,
    );
  });

  it('honours exclude and tables[].closure: false', async () => {
    const excluded = await collect(config({ exclude: new Set(['places']) }));
    expect(excluded.result.rows.has('places')).toBe(false);
    expect(excluded.result.rows.has('countries')).toBe(false);
    expect(excluded.result.section.skipped).toContainEqual({
      constraint: 'users_place_id_fkey',
      table: 'users',
      references: 'places',
      reason: 'postgres.closure.exclude',
    });
    const noFollow = await collect(config({ noFollow: new Set(['comments']) }));
    // Only the subject's own place chain remains (users' FK is still followed).
    expect([...noFollow.result.rows.keys()].sort()).toEqual(['countries', 'places']);
    expect(noFollow.result.section.totalRows).toBe(2);
  });

  it('binds key values as parameters (a quote in a key is just data)', async () => {
    await db.query(`create table tags (name text primary key);
      create table tagged (id int primary key, tag text references tags (name));
      insert into tags values ('o''brien; drop table tags; --');
      insert into tagged values (1, 'o''brien; drop table tags; --');`);
    const rows = await exported('select * from tagged');
    const result = await withClient(db.url, async (c) => {
      const col = await ClosureCollector.create(c, ['tagged'], config());
      for (const r of rows) col.addRow('tagged', r);
      return col.resolve(c);
    });
    expect(result.rows.get('tags')).toEqual([{ name: "o'brien; drop table tags; --" }]);
  });
});
