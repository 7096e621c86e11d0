/**
 * Injection: subject values and subject-rewrite values full of SQL metacharacters (quotes, `;`,
 * `$$`, `$tag$`, backslashes, comments, unicode, `x'); drop table …; --`) never change the SQL.
 * A real export with `--subject user_id=<hostile>`, a real materialize with `--rewrite-subject
 * user_id=<hostile>` (both strategies) and a real `run` with a sql probe all exit 0, the canary
 * table is untouched, and a user whose id IS the hostile string comes through literally.
 * Identifiers: a manifest table named `select` (default `from`, quoted) and columns named
 * `select`, `a"b` and `t` (the default alias) load and export.
 *
 * Probes get no subject values at all (src/run/probes/*: nothing is substituted into probe SQL,
 * URLs or commands), so the run's probe here only proves the rewritten hostile values are stored
 * and read back literally.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCapsule } from '../src/capsule/reader.js';
import type { ExactJson } from '../src/util/exact-json.js';
import { cli } from './helpers/cli.js';
import { useTestDatabase, withClient } from './helpers/db.js';
import { databaseChecksum } from './helpers/db-checksum.js';
import { hostileString } from './property/arbitraries.js';

const HOSTILE = [
  "x'); drop table canary.canary; --",
  "'",
  '"',
  ';',
  '$$ drop table canary.canary $$',
  '$tag$); drop table canary.canary; $tag$',
  '\\',
  "\\'; drop table canary.canary; --",
  '-- comment',
  '/* open comment',
  '*/',
  "é😀 ユーザー '\u2028",
  "'; select pg_sleep(0); --",
  '$1',
  '%s %I',
  '\\N',
  ' leading and trailing ',
  'a=b=c',
];
const SUBJECT = HOSTILE[0]!; // friends with every other hostile user
const REWRITE_TO = `"); drop table canary.canary; --$$ \\' $q$`;

const SCHEMA = `
create schema canary;
create table canary.canary (id int primary key, note text not null);
insert into canary.canary values (1, 'alive'), (2, $$'still' alive$$);
create table users (
  id text primary key,
  user_id text not null,
  "select" text,
  "a""b" text,
  t text,
  note text
);
create table "select" (id serial primary key, user_id text not null, "from" text);
create table friends (user_id text not null, friend_id text not null);
`;

const MANIFEST = {
  appId: 'inj',
  adapter: 'postgres-subject-graph.v1',
  subjectKeys: ['user_id'],
  postgres: {
    graphEdges: [
      "select f.friend_id as user_id, 'friend'::text as reason from friends f join params p on f.user_id = p.user_id",
    ],
    tableOrder: ['users', 'select'],
    tables: [
      {
        name: 'users',
        where: 't.user_id in (select user_id from graph_keys)',
        orderBy: 't.id',
        deletePredicate: 't.user_id = g.user_id',
      },
      {
        name: 'select',
        alias: 's',
        where: 's.user_id in (select user_id from graph_keys)',
        orderBy: 's.id',
        deletePredicate: 't.user_id = g.user_id',
      },
    ],
  },
  commands: [],
  probes: [
    { kind: 'sql', name: 'users', query: 'select id, user_id, "a""b" from users order by id collate "C"' },
  ],
};

const source = useTestDatabase('inj_src');
let target = '';
const dir = mkdtempSync(join(tmpdir(), 'replay-injection-'));
const manifestPath = join(dir, 'inj.json');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(async () => {
  writeFileSync(manifestPath, JSON.stringify(MANIFEST));
  await source.query(SCHEMA);
  await withClient(source.url, async (c) => {
    for (const h of HOSTILE) {
      await c.query(`insert into users values ($1, $1, $1, $1, $1, 'n')`, [h]);
      await c.query(`insert into "select" (user_id, "from") values ($1, $1)`, [h]);
      if (h !== SUBJECT) await c.query('insert into friends values ($1, $2)', [SUBJECT, h]);
    }
  });
  target = await source.create('inj_dst');
  await withClient(target, (c) => c.query(SCHEMA));
});

async function exportSubject(subject: string, out: string) {
  return cli([
    'export-postgres',
    '--app',
    manifestPath,
    '--db-url',
    source.url,
    '--subject',
    `user_id=${subject}`,
    '--out',
    out,
  ]);
}

async function capsuleRows(path: string) {
  const rows: Record<string, Record<string, ExactJson>[]> = {};
  const scan = await readCapsule(path, (e) => {
    if (e.kind === 'tableStart') rows[e.table] = [];
    if (e.kind === 'row') rows[e.table]!.push(e.row);
  });
  return { header: scan.header, rows };
}

const canary = async (url: string) => (await databaseChecksum(url)).tables['canary.canary'];

describe('hostile subject values never change the SQL', () => {
  it('export: every hostile subject is bound, exported literally, and the source is untouched', async () => {
    const before = await databaseChecksum(source.url);
    for (const [i, h] of HOSTILE.entries()) {
      const out = join(dir, `export-${i}.json`);
      const r = await exportSubject(h, out);
      expect(r.code, `${JSON.stringify(h)}: ${r.stderr}`).toBe(0);
      const { header, rows } = await capsuleRows(out);
      expect(header.subject).toEqual({ user_id: h });
      const mine = rows.users!.find((u) => u.id === h);
      expect(mine).toEqual({ id: h, user_id: h, select: h, 'a"b': h, t: h, note: 'n' });
      expect(rows.select!.filter((s) => s.user_id === h).map((s) => s.from)).toEqual([h]);
      const expectedUsers = h === SUBJECT ? HOSTILE.length : 1;
      expect(rows.users).toHaveLength(expectedUsers);
      expect(header.graph).toHaveLength(expectedUsers);
    }
    expect(await databaseChecksum(source.url)).toEqual(before);
  });

  it('export --dry-run-sql: the hostile value is only ever a listed parameter, never SQL text', async () => {
    const r = await cli([
      'export-postgres',
      '--app',
      manifestPath,
      '--subject',
      `user_id=${SUBJECT}`,
      '--out',
      join(dir, 'unused.json'),
      '--dry-run-sql',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const sqlLines = r.stdout.split('\n').filter((l) => !l.startsWith('--'));
    expect(sqlLines.some((l) => l.includes('drop table'))).toBe(false);
    expect(r.stdout).toContain(`$1 = ${JSON.stringify(SUBJECT)}`);
    expect(r.stdout).toContain('from "users" "t"');
    expect(r.stdout).toContain('from "select" "s"');
  });

  for (const strategy of ['jsonb', 'copy'])
    it(`materialize (${strategy}) with a hostile --rewrite-subject: literal values, canary untouched`, async () => {
      const capsule = join(dir, 'export-0.json');
      const canaryBefore = await canary(target);
      const r = await cli([
        'materialize-postgres',
        '--app',
        manifestPath,
        '--capsule',
        capsule,
        '--db-url',
        target,
        '--load-strategy',
        strategy,
        '--rewrite-subject',
        `user_id=${REWRITE_TO}`,
      ]);
      expect(r.code, r.stderr).toBe(0);
      expect(await canary(target)).toBe(canaryBefore);
      const users = await withClient(target, (c) =>
        c.query<{ id: string; user_id: string; select: string; ab: string; t: string }>(
          `select id, user_id, "select", "a""b" as ab, t from users`,
        ),
      );
      expect(users.rows).toHaveLength(HOSTILE.length);
      for (const u of users.rows) {
        expect(HOSTILE).toContain(u.id);
        // Only the subject's own user_id is rewritten; every other value is the literal string.
        expect(u.user_id).toBe(u.id === SUBJECT ? REWRITE_TO : u.id);
        expect([u.select, u.ab, u.t]).toEqual([u.id, u.id, u.id]);
      }
      const sel = await withClient(target, (c) =>
        c.query<{ user_id: string; from: string }>('select user_id, "from" from "select"'),
      );
      expect(sel.rows.map((s) => s.from).sort()).toEqual([...HOSTILE].sort());
      expect(sel.rows.find((s) => s.from === SUBJECT)?.user_id).toBe(REWRITE_TO);
    });

  it('run: materialize with a hostile rewrite, then the sql probe reads the literal values back', async () => {
    // The previous test rewrote the subject to another value, which this capsule's deletes
    // (by the new value) would not replace: start from empty app tables.
    await withClient(target, (c) => c.query('truncate users, "select"'));
    const canaryBefore = await canary(target);
    const traceOut = join(dir, 'trace.json');
    const to = "'; drop table canary.canary; -- $$";
    const r = await cli([
      'run',
      '--app',
      manifestPath,
      '--capsule',
      join(dir, 'export-0.json'),
      '--db-url',
      target,
      '--rewrite-subject',
      `user_id=${to}`,
      '--trace-out',
      traceOut,
    ]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(await canary(target)).toBe(canaryBefore);
    const trace = JSON.parse(readFileSync(traceOut, 'utf8'));
    expect(trace.capsule.subjectRewrite).toMatchObject({ from: { user_id: SUBJECT }, to: { user_id: to } });
    const probe = trace.events.find((e: { kind: string }) => e.kind === 'probe-sql');
    expect(probe.ok).toBe(true);
    const rows = probe.sql.rows as string[][];
    expect(rows).toHaveLength(HOSTILE.length);
    expect(rows.find((row) => row[0] === SUBJECT)).toEqual([SUBJECT, to, SUBJECT]);
    expect(rows.map((row) => row[0]).sort()).toEqual([...HOSTILE].sort());
  });

  it('arbitrary hostile strings as the subject and as the rewrite target round-trip literally', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        hostileString({ maxLength: 10 }).filter((s) => s !== '' && !HOSTILE.includes(s)),
        hostileString({ maxLength: 10 }).filter((s) => s !== ''),
        async (subject, to) => {
          fc.pre(subject !== to && !HOSTILE.includes(to));
          await withClient(source.url, (c) =>
            c.query(`insert into users values ($1, $1, $1, $1, $1, 'p') on conflict do nothing`, [subject]),
          );
          const out = join(dir, `prop-${n++}.json`);
          const e = await exportSubject(subject, out);
          expect(e.code, e.stderr).toBe(0);
          const { rows } = await capsuleRows(out);
          expect(rows.users).toEqual([
            { id: subject, user_id: subject, select: subject, 'a"b': subject, t: subject, note: 'p' },
          ]);
          const canaryBefore = await canary(target);
          const m = await cli([
            'materialize-postgres',
            '--app',
            manifestPath,
            '--capsule',
            out,
            '--db-url',
            target,
            '--load-strategy',
            n % 2 ? 'copy' : 'jsonb',
            '--rewrite-subject',
            `user_id=${to}`,
          ]);
          expect(m.code, m.stderr).toBe(0);
          expect(await canary(target)).toBe(canaryBefore);
          const back = await withClient(target, (c) =>
            c.query<{ user_id: string; t: string }>('select user_id, t from users where id = $1', [subject]),
          );
          expect(back.rows).toEqual([{ user_id: to, t: subject }]);
          await withClient(target, (c) => c.query('delete from users where id = $1', [subject]));
          await withClient(source.url, (c) => c.query('delete from users where id = $1', [subject]));
        },
      ),
      { numRuns: 8 },
    );
  });
});
