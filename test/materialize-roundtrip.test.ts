/**
 * Exactness, proven: a source table with every type family that matters is exported with the real
 * exporter and materialized into an empty copy of the schema with each strategy (plain and gzip
 * capsules); md5(string_agg(t::text …)) per table must equal the source's. The loaded rows' content
 * hashes must match the capsule's integrity record.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { validateManifest } from '../src/manifest/load.js';
import { exportCapsule } from '../src/postgres/export/export-capsule.js';
import { materializeCapsule } from '../src/postgres/materialize/materialize-capsule.js';
import { useTestDatabase } from './helpers/db.js';

const TYPES_SCHEMA = `
create type mood as enum ('happy', 'sad', 'it''s "complicated"');
create table owners (tenant_id text primary key, name text not null);
create table everything (
  id bigint primary key,
  tenant_id text not null references owners (tenant_id),
  i2 int2, i4 int4, i8 int8,
  num numeric, num30 numeric(40,12),
  f4 real, f8 double precision,
  txt text, vc varchar(20), ch char(5),
  b bytea, flag boolean,
  d date, tm time, ttz timetz, ts timestamp, tstz timestamptz, iv interval,
  u uuid, j json, jb jsonb,
  ta text[], ia int[], ia2 int[], jba jsonb[],
  m mood, ip inet, net cidr, mac macaddr,
  r int4range, tr tstzrange, nr numrange,
  pt point, bits bit varying(8), tsv tsvector,
  doubled int generated always as (i2 * 2) stored,
  note text default 'dflt'
);
create table tickets (
  id int generated always as identity primary key,
  tenant_id text not null references owners (tenant_id),
  title text not null
);
create table measurements (id bigint, tenant_id text not null, at date not null, v int, primary key (id, at))
  partition by range (at);
create table measurements_2024 partition of measurements for values from ('2024-01-01') to ('2025-01-01');
create table measurements_2025 partition of measurements for values from ('2025-01-01') to ('2026-01-01');
create table comments (
  id bigserial primary key,
  tenant_id text not null references owners (tenant_id),
  -- deferrable: with jsonb every chunk is its own INSERT, and row 10 points at row 13 in a later chunk
  parent_id bigint references comments (id) deferrable initially immediate,
  body text
);
`;

const TYPES_DATA = String.raw`
insert into owners values ('acme', 'Acme'), ('other', 'Other');
insert into everything (id, tenant_id, i2, i4, i8, num, num30, f4, f8, txt, vc, ch, b, flag, d, tm, ttz, ts, tstz, iv,
  u, j, jb, ta, ia, ia2, jba, m, ip, net, mac, r, tr, nr, pt, bits, tsv, note) values
(1, 'acme', -32768, 2147483647, 9223372036854775807, 123456789012345678901234567890.123456789,
  12345678901234567890.123456789012, 3.4028235e38, 1.7976931348623157e308,
  E'unicode ✓ 👨‍👩‍👧 é\u00a0 مرحبا, backslash \\ and \\N, tab\there, CRLF\r\nend', 'a,b"c', 'ab',
  '\x00ff5c0a'::bytea, true, '2000-02-29', '23:59:59.999999', '12:00:00.000001+05:30', '2024-01-15 09:30:00.123456',
  '2024-01-15 09:30:00.123456+00', '1 year 2 mons 3 days 04:05:06.789',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{ "a" : 1, "b":[1 ,2], "a": "dup" }',
  '{"big": 123456789012345678901234567890, "dec": 1.10, "exp": 1e400, "nested": [[1, [2, null]], {"a": "\\N"}], "s": "x\ty", "t": true}',
  array['plain', 'a,b', 'say "hi"', '{braces}', null, '', 'back\slash', 'NULL'], array[1, null, 3], '{{1,2},{3,4}}',
  array['{"a": 1}'::jsonb, '"str"'::jsonb, '[1, 2.50]'::jsonb], 'it''s "complicated"', '192.168.0.1/24', '10.0.0.0/8',
  '08:00:2b:01:02:03', '[1,10)', '[2024-01-01 00:00:00+00,2024-02-01 00:00:00+00)', '(0.5,1.25]', '(1.5,-2)', B'1010',
  'fat:2 cat:1', 'custom'),
(2, 'acme', 0, -1, -9223372036854775808, 'NaN', -99999999999999999999.999999999999, 'NaN', 'Infinity',
  E'a line that is just\n\\.\nand after', '', '', '\x'::bytea, false, '0001-01-01', '00:00:00', '00:00:00+00',
  '1999-12-31 23:59:59', '1970-01-01 00:00:00+00', '-1 days +02:00:00', '00000000-0000-0000-0000-000000000000',
  '[]', '"123"', '{}', '{}', '{}', '{}', 'happy', '::1', '::/0', '00:00:00:00:00:00', 'empty', '(,)', '[0,0]',
  '(0,0)', B'', '', default),
(3, 'acme', null, null, 9007199254740993, 0.1, 0.000000000001, '-Infinity', '-Infinity', E'\\N', null, null, null, null,
  null, null, null, null, null, null, null, null, '[1e-7, 0.30000000000000004, -0, 1E+2]', null, null, null, null, null,
  null, null, null, null, null, null, null, null, null, null),
(4, 'acme', 1, 1, 1, -0.0, 1, 1e-7, 0.30000000000000004, E'\\.', 'x', 'x', '\x5c4e'::bytea, true, '2024-06-30',
  '12:34:56', '12:34:56-08', '2024-06-30 12:34:56.5', '2024-06-30 12:34:56.5+02', '0', gen_random_uuid(),
  '[{"k": "v"}]', '"line1\nline2"', array[E'multi\nline', E'tab\t', '\'], array[]::int[], '{}', array[null::jsonb, '1'::jsonb],
  'sad', '2001:db8::1', '2001:db8::/32', 'ff:ff:ff:ff:ff:ff', '(,5]', '[2024-01-01 00:00:00+00,)', 'empty', '(-1e-3,1e3)',
  B'11111111', 'a:1A b:2B', null),
(5, 'other', 7, 7, 7, 7, 7, 7, 7, 'other tenant', 'x', 'x', null, null, null, null, null, null, null, null, null, null,
  null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null);
insert into measurements values (1, 'acme', '2024-05-01', 10), (2, 'acme', '2025-05-01', 20), (3, 'other', '2024-06-01', 30);
insert into tickets (tenant_id, title) values ('acme', 'first'), ('acme', 'second'), ('other', 'theirs');
insert into comments (id, tenant_id, parent_id, body) values (10, 'acme', null, 'root'), (11, 'acme', 10, 'reply'),
  (12, 'acme', 11, 'reply to reply');
-- a child row before its parent in id order (self-reference across chunks)
insert into comments (id, tenant_id, parent_id, body) values (13, 'acme', null, 'late root');
update comments set parent_id = 13 where id = 10;
`;

const MANIFEST = {
  appId: 'typesapp',
  adapter: 'postgres-subject-graph.v1',
  subjectKeys: ['tenant_id'],
  localSubject: { tenant_id: 'local' },
  postgres: {
    graphEdges: [],
    tableOrder: ['comments', 'everything'],
    tables: [
      {
        name: 'owners',
        from: 'owners t join graph_keys g on g.tenant_id = t.tenant_id',
        deletePredicate: 't.tenant_id = g.tenant_id',
      },
      {
        name: 'everything',
        from: 'everything t join graph_keys g on g.tenant_id = t.tenant_id',
        orderBy: 't.id',
        deletePredicate: 't.tenant_id = g.tenant_id',
      },
      {
        name: 'tickets',
        from: 'tickets t join graph_keys g on g.tenant_id = t.tenant_id',
        orderBy: 't.id',
        deletePredicate: 't.tenant_id = g.tenant_id',
      },
      {
        name: 'measurements',
        from: 'measurements t join graph_keys g on g.tenant_id = t.tenant_id',
        orderBy: 't.id',
        deletePredicate: 't.tenant_id = g.tenant_id',
      },
      {
        name: 'comments',
        from: 'comments t join graph_keys g on g.tenant_id = t.tenant_id',
        orderBy: 't.id',
        deletePredicate: 't.tenant_id = g.tenant_id',
      },
    ],
  },
};

const TABLES = ['owners', 'everything', 'tickets', 'comments', 'measurements'];
const SETTINGS =
  "set timezone = 'UTC'; set datestyle = 'ISO, MDY'; set extra_float_digits = 1; set intervalstyle = 'postgres'; set bytea_output = 'hex';";

async function tableMd5s(
  url: string,
  where = "where t.tenant_id = 'acme'",
): Promise<Record<string, string | null>> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(SETTINGS);
    // `json` keeps its exact text (capsule columnEncodings): compared as text like every column.
    await c.query('begin');
    const out: Record<string, string | null> = {};
    for (const t of TABLES) {
      const { rows } = await c.query(
        `select md5(string_agg(t::text, '|' order by t::text collate "C")) as m, count(*)::int as n from ${t} t ${where}`,
      );
      out[t] = `${rows[0].n}:${rows[0].m}`;
    }
    await c.query('rollback');
    return out;
  } finally {
    await c.end();
  }
}

async function runSql(url: string, sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

describe('materialize round trip: export → materialize is exact for every type family', () => {
  const db = useTestDatabase('mat_rt');
  const manifest = validateManifest(MANIFEST, 'types.json').manifest;
  const dir = mkdtempSync(join(tmpdir(), 'mat-rt-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const exportTo = async (file: string) => {
    await runSql(db.url, TYPES_SCHEMA + TYPES_DATA).catch(() => {});
    await exportCapsule({
      manifest,
      subject: { tenant_id: 'acme' },
      databaseUrl: db.url,
      out: file,
      redaction: 'raw',
    });
  };

  for (const [strategy, gzip] of [
    ['jsonb', false],
    ['copy', false],
    ['copy', true],
    ['jsonb', true],
  ] as const) {
    it(`${strategy}${gzip ? ' from .json.gz' : ''}: per-table md5 equals the source, content hashes verified`, async () => {
      const capsule = join(dir, `types.${strategy}${gzip ? '.json.gz' : '.json'}`);
      await exportTo(capsule);
      const target = await db.create('mat_rt_target');
      await runSql(target, TYPES_SCHEMA);
      // The other tenant already lives in the target and must stay untouched.
      await runSql(
        target,
        "insert into owners values ('other', 'Other'); insert into tickets (id, tenant_id, title) overriding system value values (3, 'other', 'theirs')",
      );
      const result = await materializeCapsule({
        manifest,
        capsulePath: capsule,
        url: target,
        strategy,
        chunkSize: 2,
      });
      expect(result.hashCheck).toBe('verified');
      expect(result.reader).toBe('lines');
      expect(result.counts.every((c) => c.hashMatch === true && c.capsule === c.database)).toBe(true);
      // tableOrder lists only comments and everything: owners and tickets are still loaded, parents first.
      expect(result.loadOrder.indexOf('owners')).toBeLessThan(result.loadOrder.indexOf('everything'));
      expect(result.loadOrder).toContain('tickets');
      // partitioned: loaded through the parent into the right partitions
      expect(result.counts.find((c) => c.table === 'measurements')).toEqual({
        table: 'measurements',
        capsule: 2,
        database: 2,
        hashMatch: true,
      });
      expect(result.warnings.join('\n')).toContain('leaves out');
      const source = await tableMd5s(db.url);
      expect(await tableMd5s(target)).toEqual(source);
      expect(await tableMd5s(target, "where t.tenant_id = 'other'")).toMatchObject({
        owners: expect.stringMatching(/^1:/),
        tickets: expect.stringMatching(/^1:/),
      });

      // Sequences and identity: the app can insert new rows without key collisions.
      const c = new pg.Client({ connectionString: target });
      await c.connect();
      try {
        const ticket = await c.query(
          "insert into tickets (tenant_id, title) values ('acme', 'new') returning id",
        );
        const maxLoaded = await c.query("select max(id) as m from tickets where title <> 'new'");
        expect(ticket.rows[0].id).toBeGreaterThan(maxLoaded.rows[0].m);
        const comment = await c.query(
          "insert into comments (tenant_id, body) values ('acme', 'new') returning id",
        );
        expect(Number(comment.rows[0].id)).toBeGreaterThan(13);
      } finally {
        await c.end();
      }
    });
  }
});
