/**
 * Every value round-trips byte-identical: a corpus table with every built-in type family (and the
 * extension types hstore, citext, ltree when the server has them), edge values included, is
 * exported with the real exporter and materialized with both strategies into an empty database
 * (`--create-schema`) and into a schema-only one; every column's `row(col)::text` must equal the
 * source's, row by row (so JSON null and SQL NULL, json text, array bounds and xml declarations
 * are all compared exactly), and the loaded rows' content hashes must match the capsule's.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateManifest } from '../src/manifest/load.js';
import { exportCapsule } from '../src/postgres/export/export-capsule.js';
import { zeroSetupHooks } from '../src/postgres/export/zero-setup.js';
import { materializeCapsule } from '../src/postgres/materialize/materialize-capsule.js';
import { createSchemaHook } from '../src/postgres/materialize/zero-setup.js';
import { useTestDatabase, withClient } from './helpers/db.js';

const EXTENSIONS = ['hstore', 'citext', 'ltree'] as const;

const TYPES = `
create type mood as enum ('sad', 'ok', 'it''s "complicated"');
create type pair as (a int, b text);
create type wrapped as (j json, arr int[]);
create domain posint as int check (value > 0);
create domain doc as jsonb check (jsonb_typeof(value) is distinct from 'number');
`;

/** Column name -> type, and per row a value (SQL literal text, or null). */
const COLUMNS: [string, string, (string | null)[]][] = [
  ['i2', 'int2', ['-32768', '32767', '0']],
  ['i8', 'int8', ['-9223372036854775808', '9223372036854775807', '9007199254740993']],
  [
    'num',
    'numeric',
    ["'NaN'", "'-1234567890123456789012345678901234567890.000000000000000000001'", "'1e-1000'"],
  ],
  ['nump', 'numeric(12,4)', ['12345678.1234', '-0.0001', '99999999.9999']],
  ['f4', 'float4', ["'NaN'", "'-Infinity'", '1.17549435e-38']],
  ['f8', 'float8', ["'Infinity'", '1.7976931348623157e308', '5e-324']],
  ['b', 'bool', ['true', 'false', null]],
  ['t', 'text', ['E\'tab\\there \\\\ back "q" \\n nl\'', "''", "E'\\\\.'"]],
  ['bp', 'char(5)', ["'ab'", "''", null]],
  ['nm', 'name', ["'nm'", "''", null]],
  ['ch', '"char"', ["'x'", "''", null]],
  ['by', 'bytea', ["'\\x00ff'", "'\\x'", null]],
  ['d', 'date', ["'0044-03-15 BC'", "'infinity'", "'4713-01-01 BC'"]],
  ['ts', 'timestamp', ["'0044-03-15 10:00:00.123456 BC'", "'-infinity'", "'2000-02-29 12:00'"]],
  [
    'tstz',
    'timestamptz',
    ["'294276-12-31 23:59:59.999999+00'", "'infinity'", "'1999-12-31 23:59:59.5+05:30'"],
  ],
  ['tm', 'time', ["'24:00:00'", "'00:00'", null]],
  ['tmtz', 'timetz', ["'23:59:59.999999-15:59'", "'00:00+00'", null]],
  ['iv', 'interval', ["'1 year 2 mons -3 days 04:05:06.789'", "'-178956970 years -8 months'", "'0'"]],
  ['ivp', 'interval(2)', ["'1.2345 seconds'", "'0'", null]],
  ['ivd', 'interval day to second(3)', ["'1 day 2.34567 seconds'", "'-0.001 seconds'", null]],
  ['m', 'money', ["'-92233720368547758.08'", "'0.01'", null]],
  ['bt', 'bit(4)', ["B'1010'", "B'0000'", null]],
  ['vb', 'varbit', ["B''", "B'10101010101'", null]],
  [
    'x',
    'xml',
    [
      `'<?xml version="1.0"?><a  x="1">t</a>'`,
      `'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><!DOCTYPE a><a/>'`,
      "'<a/>'",
    ],
  ],
  ['j', 'json', [`'{ "a" : 1, "a":2, "b" : [1 , 2.50] }'`, "'null'", `E'"str"\\n '`]],
  ['jb', 'jsonb', ["'null'", `'"null"'`, `'{"a": null, "b": [null, "null"], "n": 1.10}'`]],
  ['jbd', 'doc', [`'"just a string"'`, "'null'", "'[]'"]],
  ['tsv', 'tsvector', ["'a fat:2A cat'", "''", "'ünïcode:1 ''quo ted'':2'"]],
  ['tsq', 'tsquery', ["'fat & !rat <-> cat'", "'a:* & b:B'", null]],
  ['pt', 'point', ["'(1.5,-2)'", "'(1e300,-1e-300)'", null]],
  ['ln', 'line', ["'{1,2,3}'", null, null]],
  ['ls', 'lseg', ["'[(0,0),(1,1)]'", null, null]],
  ['bx', 'box', ["'(1,1),(0,0)'", null, null]],
  ['pth', 'path', ["'[(0,0),(1,1),(2,0)]'", "'((0,0))'", null]],
  ['pg', 'polygon', ["'((0,0),(1,1),(1,0))'", null, null]],
  ['ci', 'circle', ["'<(0,0),1.5>'", null, null]],
  ['ir', 'int4range', ["'[1,5)'", "'empty'", "'[-2147483648,2147483647)'"]],
  ['nr', 'numrange', ["'(,1.50]'", "'[-1e-20,1e20]'", "'[NaN,NaN]'"]],
  ['tr', 'tstzrange', ["'[2020-01-01 00:00+00,infinity)'", "'(,)'", null]],
  ['imr', 'int4multirange', ["'{[1,3),[5,7)}'", "'{}'", "'{(,5],[10,)}'"]],
  ['ip', 'inet', ["'192.168.0.1/24'", "'::1'", null]],
  ['cidr_', 'cidr', ["'10.0.0.0/8'", "'2001:db8::/32'", null]],
  ['mac8', 'macaddr8', ["'08:00:2b:01:02:03:04:05'", "'ff:ff:ff:ff:ff:ff:ff:ff'", null]],
  ['lsn', 'pg_lsn', ["'16/B374D848'", "'FFFFFFFF/FFFFFFFF'", "'0/0'"]],
  ['o', 'oid', ['4294967295', '0', null]],
  ['e', 'mood', [`'it''s "complicated"'`, "'sad'", null]],
  ['cp', 'pair', [`'(1,"x ,y")'`, "'(,)'", `'(-1,"")'`]],
  ['cw', 'wrapped', [`'("{ ""k"" : 1 }","[0:1]={1,2}")'`, "'(null,{})'", `'(,"[0:0]={5}")'`]],
  ['dm', 'posint', ['7', '2147483647', null]],
  ['ai', 'int[]', ["'[0:2]={7,8,9}'", "'{}'", "'[-5:-4]={1,2}'"]],
  ['a2', 'int[]', ["'{{1,2},{3,NULL}}'", "'[1:1][-1:0]={{1,2}}'", "'{{{1}}}'"]],
  ['at', 'text[]', [`'{"a,b","say \\"hi\\"",NULL,"",NULL,"NULL"}'`, "'{}'", `'{"\\\\\\\\",".","\\\\."}'`]],
  [
    'ajb',
    'jsonb[]',
    [`'{"null",NULL,"{\\"k\\": 1}","\\"s\\""}'`, `'{"[]","{}",NULL}'`, `'{"{\\"a\\": 1}"}'`],
  ],
  ['aj', 'json[]', [`'{"{ \\"a\\" : 1 }",NULL}'`, `'{"null","\\"null\\""}'`, "'{}'"]],
  ['acp', 'pair[]', [`'{"(1,a)",NULL,"(,)"}'`, '\'[2:2]={"(2,b)"}\'', "'{}'"]],
  ['ae', 'mood[]', ["'{sad,ok}'", "'{}'", null]],
  ['ax', 'xml[]', [`'{"<?xml version=\\"1.0\\"?><r/>"}'`, "'{}'", null]],
  ['auuid', 'uuid[]', ["'{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}'", null, "'{}'"]],
];

const EXTENSION_COLUMNS: Record<(typeof EXTENSIONS)[number], [string, string, (string | null)[]][]> = {
  hstore: [
    ['hs', 'hstore', [`'a=>1, "b c"=>NULL, "q\\"x"=>"\\\\"'`, "''", `'"k"=>""'`]],
    ['ahs', 'hstore[]', [`'{"a=>1",NULL}'`, "'{}'", null]],
  ],
  citext: [['ct', 'citext', ["'MiXeD'", "''", "'ß'"]]],
  ltree: [['lt', 'ltree', ["'top.mid.leaf'", "''", "'a'"]]],
};

const MANIFEST = {
  appId: 'typecorpus',
  adapter: 'postgres-subject-graph.v1',
  subjectKeys: ['tenant_id'],
  postgres: {
    graphEdges: [],
    tables: [
      {
        name: 'corpus',
        from: 'corpus t join graph_keys g on g.tenant_id = t.tenant_id',
        orderBy: 't.id',
        deletePredicate: 't.tenant_id = g.tenant_id',
      },
    ],
  },
};

function corpusSql(columns: typeof COLUMNS): string {
  const defs = columns.map(([n, t]) => `${n} ${t}`).join(',\n  ');
  const rows = [0, 1, 2].map(
    (r) => `(${r + 1}, 'acme', ${columns.map(([, , v]) => v[r] ?? 'null').join(', ')})`,
  );
  // One row of NULLs everywhere, and one of another tenant (not exported).
  rows.push(`(4, 'acme', ${columns.map(() => 'null').join(', ')})`);
  rows.push(`(5, 'other', ${columns.map(([, , v]) => v[0] ?? 'null').join(', ')})`);
  return `create table corpus (\n  id int primary key, tenant_id text not null,\n  ${defs}\n);\n
insert into corpus values\n${rows.join(',\n')};`;
}

/** Per column, `row(col)::text` of every exported row in id order (NULL `()` ≠ '' `("")`). */
async function columnTexts(url: string, columns: readonly string[]): Promise<Record<string, string[]>> {
  return withClient(url, async (c) => {
    const out: Record<string, string[]> = {};
    for (const col of ['*', ...columns]) {
      const expr = col === '*' ? 't::text' : `row(t.${col})::text`;
      const r = await c.query<{ v: string }>(
        `select ${expr} as v from corpus t where tenant_id = 'acme' order by id`,
      );
      out[col] = r.rows.map((x) => x.v);
    }
    return out;
  });
}

describe('type corpus: export → materialize is byte-identical per column, both strategies, both targets', () => {
  const db = useTestDatabase('types_corpus');
  const manifest = validateManifest(MANIFEST, 'typecorpus.json').manifest;
  const dir = mkdtempSync(join(tmpdir(), 'type-corpus-'));
  const capsulePath = join(dir, 'corpus.json');
  const available: string[] = [];
  let columns = COLUMNS;
  let schemaSql = '';
  let source: Record<string, string[]> = {};
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  beforeAll(async () => {
    for (const ext of EXTENSIONS) {
      const ok = await db
        .query(`create extension if not exists ${ext}`)
        .then(() => true)
        .catch(() => false);
      if (ok) available.push(ext);
      else console.warn(`skipped: extension ${ext} is not available on the test server`);
    }
    columns = [...COLUMNS, ...available.flatMap((e) => EXTENSION_COLUMNS[e as (typeof EXTENSIONS)[number]])];
    schemaSql = `${available.map((e) => `create extension if not exists ${e};`).join('\n')}\n${TYPES}\n${corpusSql(columns)}`;
    await db.query(schemaSql);
    source = await columnTexts(
      db.url,
      columns.map(([n]) => n),
    );
    const hooks = zeroSetupHooks(manifest);
    await exportCapsule({
      manifest,
      subject: { tenant_id: 'acme' },
      databaseUrl: db.url,
      out: capsulePath,
      redaction: 'raw',
      extraRows: hooks.extraRows,
      extraSections: hooks.extraSections,
    });
  }, 120_000);

  it('the capsule is schemaVersion 2 and names the columns it carries as text', () => {
    const capsule = JSON.parse(readFileSync(capsulePath, 'utf8'));
    expect(capsule.schemaVersion).toBe(2);
    const enc = capsule.columnEncodings.corpus;
    expect(enc).toMatchObject({
      j: 'json',
      jb: 'jsonb',
      jbd: 'jsonb',
      x: 'text',
      ai: 'array',
      ajb: 'jsonb[]',
    });
    expect(enc.aj).toBe('text');
    expect(enc.cw).toBe('text');
    expect(enc.i8).toBeUndefined();
    // JSON null and SQL NULL are distinct in the capsule itself.
    const rows = capsule.tables.corpus;
    expect(rows[0].jb).toBe('null');
    expect(rows[3].jb).toBeNull();
    expect(rows[0].j).toBe('{ "a" : 1, "a":2, "b" : [1 , 2.50] }');
  });

  for (const target of ['empty (--create-schema)', 'schema only'] as const) {
    for (const strategy of ['copy', 'jsonb'] as const) {
      it(`${strategy} into ${target}: every column's row(col)::text equals the source's`, async () => {
        const url = await db.create('types_target');
        if (target === 'schema only')
          await withClient(url, (c) => c.query(schemaSql.replace(/insert into[^;]*;/s, '')));
        const m = await materializeCapsule({
          manifest,
          capsulePath,
          url,
          strategy,
          ...(target === 'schema only' ? {} : { prepareTarget: createSchemaHook({ capsulePath }) }),
        });
        expect(m.status).toBe('ok');
        expect(m.hashCheck).toBe('verified');
        for (const c of m.counts) expect(c.hashMatch, c.table).toBe(true);
        const loaded = await columnTexts(
          url,
          columns.map(([n]) => n),
        );
        for (const [col, values] of Object.entries(source)) expect(loaded[col], col).toEqual(values);
      });
    }
  }

  for (const ext of EXTENSIONS) {
    it(`extension type ${ext} is in the corpus (skipped with a message when the server lacks it)`, (ctx) => {
      if (!available.includes(ext)) {
        ctx.skip(`extension ${ext} is not available on the test server`);
        return;
      }
      const names = EXTENSION_COLUMNS[ext].map(([n]) => n);
      for (const n of names) expect(Object.keys(source)).toContain(n);
    });
  }
});
