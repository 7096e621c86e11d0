import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson, INTEGRITY_ALGORITHM_V2, TableHasher } from '../src/capsule/integrity.js';
import { readCapsule } from '../src/capsule/reader.js';
import { CapsuleWriter } from '../src/capsule/writer.js';
import { validateManifest } from '../src/manifest/load.js';
import { copyUnescape } from '../src/postgres/copy/copy-encoding.js';
import { CopyLineSplitter } from '../src/postgres/copy/copy-out.js';
import { canonicalFromText } from '../src/postgres/export/canonical.js';
import { exportCapsule } from '../src/postgres/export/export-capsule.js';
import { hmacValue } from '../src/redaction/redact.js';
import { type ExactJson, parseExact, stringifyExact } from '../src/util/exact-json.js';
import { cli } from './helpers/cli.js';
import { useTestDatabase } from './helpers/db.js';

const SCHEMA = `
create type mood as enum ('happy', 'sad', 'ünïcode mood');
create table profiles (
  id bigint primary key, tenant_id text not null, user_id text not null, name text, email text,
  api_token text, note text, settings jsonb
);
create table weird (
  id bigint primary key, user_id text not null,
  big bigint, num numeric(40,10), num_free numeric, j jsonb, js json, b bytea, arr text[], iarr int[],
  ts timestamptz, tsp timestamp, d date, iv interval, m mood, f8 double precision, f4 real, txt text, uuid uuid,
  gone text
);
create table links (id bigint primary key, user_id text not null, friend_id text not null, created_at timestamptz not null);
insert into profiles values
  (1, 't1', 'u1', 'Alice', 'alice@example.com', null, 'hi', '{"password": "", "theme": "dark"}'),
  (2, 't1', 'u2', 'Bob', 'bob@example.com', null, null, '{}'),
  (3, 't1', 'u3', 'Carol', 'carol@example.com', null, 'no link', '{}');
insert into links values (1, 'u1', 'u2', now() - interval '1 day'), (2, 'u1', 'u3', now() - interval '400 days');
insert into weird values (
  9223372036854775807, 'u1', 9007199254740993, 12345678901234567890.1234567890, 123456789012345678901234567890.000000000000000000001,
  '{"big": 123456789012345678901234567890, "dec": 1.10, "exp": 1e400, "neg": -0.0000000001, "s": "a\\\\b\\"c\\n\\t\\u0001 ☃ 👋", "nested": {"z": 1, "a": [1, 2.50]}}',
  '{"dup": 1, "dup": 2,   "space" : true}',
  '\\x00ff5c0a', array['a,b', 'say "hi"', '{braces}', null, '', E'back\\\\slash'], array[1, null, 3],
  '2026-01-02 03:04:05.123456+00', '2026-01-02 03:04:05.000001', '2000-02-29', '1 year 2 mons 3 days 04:05:06.789', 'ünïcode mood',
  1.7976931348623157e308, 0.1, E'tab\\there\\nnewline \\\\N backslash \\\\ and \\\\. and CR\\r end, 你好 مرحبا 👨‍👩‍👧 e\\u0301',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'
);
`;

function manifestFor(extra: { tables?: unknown[]; graphEdges?: string[]; redactionRules?: unknown[] } = {}) {
  return validateManifest(
    {
      appId: 'testapp',
      adapter: 'postgres-subject-graph.v1',
      subjectKeys: ['tenant_id', 'user_id'],
      postgres: {
        prodDatabaseUrlEnv: 'TESTAPP_PROD_URL',
        graphEdges: extra.graphEdges ?? [
          "select 't1'::text as tenant_id, l.friend_id as user_id, 'friend'::text as reason from links l join params p on l.user_id = p.user_id where l.created_at >= p.since_at",
        ],
        tableOrder: [],
        tables: extra.tables ?? [
          {
            name: 'profiles',
            alias: 'p',
            from: 'profiles p join graph_keys g on g.tenant_id = p.tenant_id and g.user_id = p.user_id',
            orderBy: 'p.id',
          },
          {
            name: 'weird',
            alias: 'w',
            from: 'weird w join params s on s.user_id = w.user_id',
            orderBy: 'w.id',
          },
        ],
      },
      // The `gone` rule never changes anything (the column is NULL) but makes safe exports parse
      // and re-serialise every `weird` row, so exactness is proven on that path too.
      redactionRules: extra.redactionRules ?? [
        { fields: ['email'], action: 'hash' },
        { table: 'weird', fields: ['gone'], action: 'hash' },
      ],
    },
    'test-manifest.json',
  ).manifest;
}

describe('export-postgres', () => {
  const db = useTestDatabase('export');
  const dir = mkdtempSync(join(tmpdir(), 'replay-export-'));
  let manifestPath = '';

  beforeAll(async () => {
    await db.query(SCHEMA);
    manifestPath = join(dir, 'testapp.json');
    writeFileSync(manifestPath, JSON.stringify(manifestFor()));
  });

  const base = () => [
    'export-postgres',
    '--app',
    manifestPath,
    '--subject',
    'tenant_id=t1',
    '--subject',
    'user_id=u1',
  ];
  const noCapsules = (d: string) => readdirSync(d).filter((f) => f.includes('.json') && f !== 'testapp.json');

  it('keeps every value exact: capsule text carries the source digits and text unchanged', async () => {
    for (const mode of ['raw', 'safe'] as const) {
      const out = join(dir, `exact-${mode}.json`);
      const r = await cli([...base(), '--redaction', mode, '--out', out], {
        env: { TESTAPP_PROD_URL: db.url },
      });
      expect(r.stderr).not.toMatch(/replay-env:/);
      expect(r.code).toBe(0);
      const text = readFileSync(out, 'utf8');
      for (const digits of [
        '9223372036854775807',
        '9007199254740993',
        '12345678901234567890.1234567890',
        '123456789012345678901234567890.000000000000000000001',
        '123456789012345678901234567890',
        '1.10',
        '2.50',
        `1${'0'.repeat(400)}`,
        '-0.0000000001',
      ])
        expect(text, `${mode}: ${digits.slice(0, 40)}`).toContain(digits);
      // Every row equals the source's own to_jsonb, value for value (exact numbers, same strings).
      const rows: ExactJson[] = [];
      await readCapsule(out, (e) => {
        if (e.kind === 'row' && e.table === 'weird') rows.push(e.row);
      });
      // … with the json column `js` as its exact text (capsule schemaVersion 2, columnEncodings).
      const src = await db.query<{ j: string }>(
        `select (to_jsonb(w) || jsonb_build_object('js', w.js::text))::text as j from weird w where user_id = 'u1'`,
      );
      expect(rows.map((x) => canonicalJson(x))).toEqual(src.rows.map((x) => canonicalJson(parseExact(x.j))));
      if (mode === 'safe') expect(text).toContain('"gone":null'); // compact: went through parse + stringify
      const w = rows[0] as Record<string, ExactJson>;
      expect(w.txt).toBe(
        'tab\there\nnewline \\N backslash \\ and \\. and CR\r end, 你好 مرحبا 👨‍👩‍👧 e\u0301',
      );
      expect(w.b).toBe('\\x00ff5c0a');
      expect(w.iv).toBe('1 year 2 mons 3 days 04:05:06.789');
      expect(w.ts).toBe('2026-01-02T03:04:05.123456+00:00');
      expect(w.arr).toEqual(['a,b', 'say "hi"', '{braces}', null, '', 'back\\slash']);
      expect(w.m).toBe('ünïcode mood');
      expect((w.j as Record<string, ExactJson>).s).toBe('a\\b"c\n\t\u0001 ☃ 👋');
      expect(w.js).toBe('{"dup": 1, "dup": 2,   "space" : true}');
    }
  });

  it('writes the version-1 shape (version 2 with columnEncodings for its json column) with one row per line, integrity that re-computes, and gzip for .gz', async () => {
    const plain = join(dir, 'shape.json');
    const gz = join(dir, 'shape.json.gz');
    for (const out of [plain, gz]) {
      const r = await cli([...base(), '--redaction', 'raw', '--out', out], {
        env: { TESTAPP_PROD_URL: db.url },
      });
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(out.endsWith('.gz') ? 'shape.json.gz' : 'shape.json');
      expect(r.stdout).toMatch(/sha256 {2}[0-9a-f]{64}/);
      expect(r.stdout).toMatch(/profiles +2\n/);
    }
    expect(readFileSync(gz).subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    const lines = readFileSync(plain, 'utf8').split('\n');
    const start = lines.indexOf('"profiles":[');
    expect(start).toBeGreaterThan(0);
    expect(JSON.parse(lines[start + 1]!.replace(/,$/, '')).name).toBe('Alice');
    expect(JSON.parse(lines[start + 2]!.replace(/,$/, '')).name).toBe('Bob');
    expect(lines[start + 3]).toBe('],');

    for (const file of [plain, gz]) {
      const hashers: Record<string, TableHasher> = {};
      const { header, counts } = await readCapsule(file, (e) => {
        if (e.kind === 'tableStart') hashers[e.table] = TableHasher.for(INTEGRITY_ALGORITHM_V2);
        if (e.kind === 'row') hashers[e.table]!.add(e.row);
      });
      // `weird.js` is a json column, carried as its exact text: version 2, said in columnEncodings.
      expect(header.schemaVersion).toBe(2);
      expect(header.columnEncodings).toEqual({
        profiles: { settings: 'jsonb' },
        weird: { j: 'jsonb', js: 'json', arr: 'array', iarr: 'array' },
      });
      expect(header.integrity?.algorithm).toBe(INTEGRITY_ALGORITHM_V2);
      expect(header.app).toBe('testapp');
      expect(header.redaction).toBe('raw');
      expect(header.subject).toEqual({ tenant_id: 't1', user_id: 'u1' });
      // u3's link is older than 180 days: not in the graph.
      expect(header.graph).toEqual([
        { tenant_id: 't1', user_id: 'u1', reasons: ['subject'] },
        { tenant_id: 't1', user_id: 'u2', reasons: ['friend'] },
      ]);
      expect(counts).toEqual({ profiles: 2, weird: 1 });
      expect(header.source).toMatchObject({ kind: 'postgres', databaseUrlEnv: 'TESTAPP_PROD_URL' });
      for (const [t, h] of Object.entries(hashers))
        expect(header.integrity!.tables[t]).toEqual({ rows: h.rows, sha256: h.digest() });
      expect(header.window?.sinceDays).toBe(180);
      expect(Date.parse(header.exportedAt!) - Date.parse(header.window!.sinceAt!)).toBe(180 * 86_400_000);
    }
  });

  it('binds subject values: an injection attempt exports nothing and changes nothing', async () => {
    const out = join(dir, 'inject.json');
    const evil = "x'); drop table profiles; --";
    const r = await cli(
      [
        'export-postgres',
        '--app',
        manifestPath,
        '--subject',
        'tenant_id=t1',
        '--subject',
        `user_id=${evil}`,
        '--out',
        out,
        // The value matches no row: without it the export fails as an empty subject.
        '--allow-empty',
      ],
      { env: { TESTAPP_PROD_URL: db.url } },
    );
    expect(r.code, r.stderr).toBe(0);
    const { header, counts } = await readCapsule(out, null);
    expect(header.subject.user_id).toBe(evil);
    expect(header.graph).toEqual([{ tenant_id: 't1', user_id: evil, reasons: ['subject'] }]);
    expect(counts).toEqual({ profiles: 0, weird: 0 });
    const left = await db.query('select count(*)::int as n from profiles');
    expect(left.rows[0]!.n).toBe(3);
  });

  it('runs read-only in one snapshot: works on a database that refuses writes', async () => {
    const roUrl = await db.create('ro');
    const { withClient } = await import('./helpers/db.js');
    await withClient(roUrl, async (c) => {
      await c.query(SCHEMA);
      await c.query(
        `alter database "${new URL(roUrl).pathname.slice(1)}" set default_transaction_read_only = on`,
      );
    });
    const out = join(dir, 'ro.json');
    const r = await cli([...base(), '--db-url', roUrl, '--out', out]);
    expect(r.stderr).not.toMatch(/replay-env:/);
    expect(r.code).toBe(0);
    expect((await readCapsule(out, null)).counts).toEqual({ profiles: 2, weird: 1 });
  });

  it('safe mode: redacts, then the secret scanner refuses leftovers (table, row, path, never the value)', async () => {
    await db.query(
      `update profiles set api_token = 'plain-token-value', note = 'key gho_16C7e42F292c6912E7710c838347Ae178B4a' where id = 2`,
    );
    try {
      const out = join(dir, 'findings.json');
      const r = await cli([...base(), '--out', out], { env: { TESTAPP_PROD_URL: db.url } });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('profiles[1] api_token: secret-field');
      expect(r.stderr).toContain('profiles[1] note: github-token');
      expect(r.stderr).not.toContain('plain-token-value');
      expect(r.stderr).not.toContain('gho_16C7');
      expect(existsSync(out)).toBe(false);
      expect(noCapsules(dir).filter((f) => f.includes('findings'))).toEqual([]);

      const allowed = await cli([...base(), '--out', out, '--allow-findings'], {
        env: { TESTAPP_PROD_URL: db.url },
      });
      expect(allowed.code).toBe(0);
      const { header } = await readCapsule(out, null);
      // Row keys come in jsonb order (shorter names first).
      expect(header.findings).toEqual([
        { table: 'profiles', row: 1, path: 'note', kind: 'github-token' },
        { table: 'profiles', row: 1, path: 'api_token', kind: 'secret-field' },
      ]);
      const text = readFileSync(out, 'utf8');
      expect(text).not.toContain('alice@example.com'); // hashed by the rule
      expect(text).toContain('"password":""'); // empty values are not findings

      const raw = join(dir, 'findings-raw.json');
      const rr = await cli([...base(), '--out', raw, '--redaction', 'raw'], {
        env: { TESTAPP_PROD_URL: db.url },
      });
      expect(rr.code).toBe(0);
      const rawHeader = (await readCapsule(raw, null)).header;
      expect(rawHeader.redaction).toBe('raw');
      expect(rawHeader.findings).toBeUndefined();
      expect(readFileSync(raw, 'utf8')).toContain('alice@example.com');
    } finally {
      await db.query(`update profiles set api_token = null, note = null where id = 2`);
    }
  });

  it('requires every subject key and a source URL (exit 2, naming the flags / env var)', async () => {
    const r = await cli([
      'export-postgres',
      '--app',
      manifestPath,
      '--subject',
      'tenant_id=t1',
      '--out',
      join(dir, 'x.json'),
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--subject user_id=<value>');
    const empty = await cli([
      'export-postgres',
      '--app',
      manifestPath,
      '--subject',
      'tenant_id=',
      '--subject',
      'user_id=u1',
      '--out',
      join(dir, 'x.json'),
    ]);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain('--subject tenant_id=<value>');
    const unknown = await cli([...base(), '--subject', 'org=1', '--out', join(dir, 'x.json')]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('org is not a subject key');
    const noUrl = await cli([...base(), '--out', join(dir, 'x.json')], { env: { TESTAPP_PROD_URL: '' } });
    expect(noUrl.code).toBe(2);
    expect(noUrl.stderr).toContain('TESTAPP_PROD_URL');
    expect(existsSync(join(dir, 'x.json'))).toBe(false);
  });

  it('hmac rules need their key: missing => exit 2 before connecting; present => keyed hashes', async () => {
    const m = join(dir, 'hmac.json');
    writeFileSync(
      m,
      JSON.stringify(
        manifestFor({ redactionRules: [{ fields: ['email'], action: 'hmac', keyEnv: 'EMAIL_KEY' }] }),
      ),
    );
    const out = join(dir, 'hmac-out.json');
    const args = [
      'export-postgres',
      '--app',
      m,
      '--subject',
      'tenant_id=t1',
      '--subject',
      'user_id=u1',
      '--out',
      out,
    ];
    const missing = await cli(args, {
      env: { TESTAPP_PROD_URL: 'postgres://nobody@127.0.0.1:1/none', EMAIL_KEY: '' },
    });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('EMAIL_KEY');
    expect(existsSync(out)).toBe(false);
    const ok = await cli(args, { env: { TESTAPP_PROD_URL: db.url, EMAIL_KEY: 'k1' } });
    expect(ok.code).toBe(0);
    const text = readFileSync(out, 'utf8');
    expect(text).not.toContain('alice@example.com');
    expect(text).toContain(hmacValue('alice@example.com', 'k1'));
  });

  it('names the manifest entry and the server message on SQL errors, and leaves no capsule', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(
      bad,
      JSON.stringify(
        manifestFor({
          tables: [
            {
              name: 'profiles',
              alias: 'p',
              from: 'profiles p join graph_keys g on g.user_id = p.user_id',
              orderBy: 'p.id',
            },
            { name: 'events', from: 'events t join params s on s.user_id = t.user_id' },
          ],
        }),
      ),
    );
    const out = join(dir, 'bad-out.json');
    const args = [
      'export-postgres',
      '--app',
      bad,
      '--subject',
      'tenant_id=t1',
      '--subject',
      'user_id=u1',
      '--out',
      out,
      '--db-url',
      db.url,
    ];
    // Default flags: the zero-setup phases (closure, schema) run first and report it their way.
    const d = await cli(args);
    expect(d.code).toBe(1);
    expect(d.stderr).toContain('events');
    expect(existsSync(out)).toBe(false);
    // The table phase itself names the manifest entry and the server's message.
    const r = await cli([...args, '--no-closure', '--no-schema']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('postgres.tables[1] (events)');
    expect(r.stderr).toContain('relation "events" does not exist');
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.startsWith('.bad-out'))).toEqual([]);

    const badEdge = join(dir, 'bad-edge.json');
    writeFileSync(
      badEdge,
      JSON.stringify(
        manifestFor({
          graphEdges: [
            "select 't1'::text as tenant_id, l.friend_id as user_id, 'friend'::text as reason from links l join params p on l.user_id = p.user_id",
            "select 't1'::text as tenant_id, x.nope as user_id, 'broken'::text as reason from links x",
          ],
        }),
      ),
    );
    const e = await cli([
      'export-postgres',
      '--app',
      badEdge,
      '--subject',
      'tenant_id=t1',
      '--subject',
      'user_id=u1',
      '--out',
      out,
      '--db-url',
      db.url,
    ]);
    expect(e.code).toBe(1);
    expect(e.stderr).toContain('postgres.graphEdges[1]');
    expect(e.stderr).toContain('column x.nope does not exist');
    expect(existsSync(out)).toBe(false);
  });

  it('reports connection failures and statement timeouts', async () => {
    const out = join(dir, 'conn.json');
    const r = await cli([...base(), '--out', out, '--db-url', 'postgres://postgres:x@127.0.0.1:1/nope']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot connect to export source .*connection refused/);
    expect(r.stderr).not.toContain(':x@');
    expect(existsSync(out)).toBe(false);

    // Wrong password: the server's authentication message, password hidden.
    const wrong = new URL(db.url);
    wrong.password = 'definitely-wrong';
    const auth = await cli([...base(), '--out', out, '--db-url', wrong.toString()]);
    if (auth.code === 0) {
      console.warn('the test server does not check passwords (trust auth): auth failure not exercised');
    } else {
      expect(auth.code).toBe(1);
      expect(auth.stderr).toMatch(/cannot connect to export source .*authentication failed/);
      expect(auth.stderr).not.toContain('definitely-wrong');
      expect(existsSync(out)).toBe(false);
    }

    const slow = join(dir, 'slow.json');
    writeFileSync(
      slow,
      JSON.stringify(
        manifestFor({
          tables: [{ name: 'profiles', alias: 'p', where: 'pg_sleep(0.5) is not null', orderBy: 'p.id' }],
        }),
      ),
    );
    const t = await cli([
      'export-postgres',
      '--app',
      slow,
      '--subject',
      'tenant_id=t1',
      '--subject',
      'user_id=u1',
      '--out',
      out,
      '--db-url',
      db.url,
      '--statement-timeout',
      '100',
    ]);
    expect(t.code).toBe(1);
    expect(t.stderr).toContain('postgres.tables[0] (profiles)');
    expect(t.stderr).toContain('statement timeout');
    expect(existsSync(out)).toBe(false);
  });

  it('--dry-run-sql prints every statement with placeholders and the values apart, without connecting', async () => {
    const evil = "x'); drop table profiles; --";
    const r = await cli(
      [
        'export-postgres',
        '--app',
        manifestPath,
        '--subject',
        'tenant_id=t1',
        '--subject',
        `user_id=${evil}`,
        '--since-days',
        '30',
        '--dry-run-sql',
      ],
      { env: { TESTAPP_PROD_URL: 'postgres://nobody@127.0.0.1:1/none' } },
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`$2 = ${JSON.stringify(evil)}`);
    expect(r.stdout).toContain('$3 = "30"');
    expect(r.stdout).toContain("set_config('replay_env.p1', $1, true)");
    expect(r.stdout).toContain('-- [postgres.tables[1] (weird)]');
    // The value appears only in the parameter list, never inside a statement.
    expect(r.stdout.split(evil).length).toBe(2);
    expect(r.stdout).toContain('from links l join params p on l.user_id = p.user_id');
  });

  it('--explain prints a plan per statement; --profile prints phase timings', async () => {
    const r = await cli([...base(), '--explain'], { env: { TESTAPP_PROD_URL: db.url } });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('-- graph');
    expect(r.stdout).toContain('-- postgres.tables[0] (profiles)');
    expect(r.stdout).toMatch(/Scan|Join/);
    const p = await cli([...base(), '--out', join(dir, 'prof.json'), '--profile'], {
      env: { TESTAPP_PROD_URL: db.url },
    });
    expect(p.code).toBe(0);
    for (const phase of ['connect', 'graph', 'table profiles', 'table weird', 'redaction', 'write'])
      expect(p.stderr).toContain(phase);
    expect(p.stderr).toMatch(/exported profiles: 2 rows/);
  });

  it('calls the extraSections hook inside the snapshot and writes its keys after tables', async () => {
    const out = join(dir, 'extra.json');
    const seen: string[] = [];
    const res = await exportCapsule({
      manifest: manifestFor(),
      subject: { tenant_id: 't1', user_id: 'u1' },
      databaseUrl: db.url,
      out,
      redaction: 'raw',
      extraSections: async (ctx) => {
        const r = await ctx.client.query('select current_setting($1) as ro', ['transaction_read_only']);
        seen.push(r.rows[0].ro, ...ctx.tables.map((t) => `${t.name}:${t.rows}`));
        return { schema: { note: 'x', n: parseExact('123456789012345678901') } };
      },
    });
    expect(seen).toEqual(['on', 'profiles:2', 'weird:1']);
    const text = readFileSync(out, 'utf8');
    expect(text.indexOf('"schema":')).toBeGreaterThan(text.indexOf('"tables":'));
    expect(text).toContain('"schema":{"note":"x","n":123456789012345678901}');
    expect(res.counts).toEqual({ profiles: 2, weird: 1 });
  });
});

describe('export building blocks', () => {
  it('decodes COPY text escapes exactly', () => {
    expect(copyUnescape('plain')).toBe('plain');
    expect(copyUnescape('a\\\\b\\tc\\nd\\re\\\\N')).toBe('a\\b\tc\nd\re\\N');
    expect(copyUnescape('\\N')).toBe('\\N');
  });

  it('splits COPY output into lines at any chunk boundary (even inside a UTF-8 sequence)', () => {
    const rows = ['{"a": "x\\\\y 👋"}', '{"b": "é\\tz"}', '{"c": 1}'];
    const bytes = Buffer.from(`${rows.join('\n')}\n`, 'utf8');
    const expected = ['{"a": "x\\y 👋"}', '{"b": "é\tz"}', '{"c": 1}'];
    for (let size = 1; size <= bytes.length; size++) {
      const out: string[] = [];
      const sp = new CopyLineSplitter();
      for (let i = 0; i < bytes.length; i += size) sp.push(bytes.subarray(i, i + size), (l) => out.push(l));
      sp.end((l) => out.push(l));
      expect(out, `chunk size ${size}`).toEqual(expected);
    }
    // one row per chunk (what Postgres sends)
    const out: string[] = [];
    const sp = new CopyLineSplitter();
    for (const r of rows) sp.push(Buffer.from(`${r}\n`), (l) => out.push(l));
    sp.end((l) => out.push(l));
    expect(out).toEqual(expected);
  });

  it('canonical JSON from text equals canonicalJson(parseExact(text))', () => {
    const samples = [
      '{"b": 1, "a": [1, 2.50, {"z": null, "é": true, "e\\u0301": false}], "aa": "x\\"y\\\\z\\n\\u0001", "10": 1, "9": 2}',
      '[]',
      '{}',
      '"\\u00e9\\/"',
      '{"n": 1e400, "m": -1.5E-3, "k": 0}',
      ' { "sp" : [ 1 , 2 ] , "a" : { } } ',
      '{"👋": 1, "\\ud83d\\udc4b2": 2, "Z": 3}',
      '{"a": 1, "b": 2, "a": 1}',
      '{"b": {"y": 1, "x": [true, false, null]}, "a": "é", "ab": {}, "aa": [], "": 0}',
    ];
    for (const s of samples) expect(canonicalFromText(s), s).toBe(canonicalJson(parseExact(s)));
    expect(() => canonicalFromText('{"a": }')).toThrow();
  });

  it('TableHasher gives the defined digest: sum of row sha256s modulo 2^256, however it folds', () => {
    const texts = Array.from({ length: 50 }, (_, i) =>
      canonicalFromText(`{"id": ${i}, "s": "row ${'x'.repeat(i)}"}`),
    );
    // The definition, written out plainly (capsule/integrity.ts, algorithm rows-sha256-sum.v1).
    let sum = 0n;
    for (const t of texts)
      sum = (sum + BigInt(`0x${createHash('sha256').update(t, 'utf8').digest('hex')}`)) % (1n << 256n);
    const reference = sum.toString(16).padStart(64, '0');
    for (const foldEvery of [1, 3, 1 << 20]) {
      const b = new TableHasher(undefined, foldEvery);
      for (const t of texts) b.addCanonical(t);
      expect(b.digest()).toBe(reference);
      expect(b.rows).toBe(50);
    }
    expect(new TableHasher().digest()).toBe('0'.repeat(64));
  });

  it('writer: abort leaves nothing, commit renames into place', async () => {
    const d = mkdtempSync(join(tmpdir(), 'replay-writer-'));
    const w = await CapsuleWriter.open(join(d, 'a.json'));
    w.writeSection('schemaVersion', 1);
    w.beginTables();
    w.beginTable('t');
    w.writeRow(stringifyExact(parseExact('{"n":12345678901234567890123}')));
    await w.abort();
    expect(readdirSync(d)).toEqual([]);
    const w2 = await CapsuleWriter.open(join(d, 'b.json'));
    w2.writeSection('schemaVersion', 1);
    w2.beginTables();
    w2.beginTable('t');
    w2.endTable();
    w2.endTables();
    const done = await w2.commit();
    expect(readdirSync(d)).toEqual(['b.json']);
    expect(readFileSync(done.path, 'utf8')).toBe('{"schemaVersion":1,\n"tables":{\n"t":[]\n}\n}\n');
    expect(done.bytes).toBe(readFileSync(done.path).length);
  });
});
