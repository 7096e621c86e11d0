/**
 * Every capsule layout users have, end to end at a small scale (20k rows): export-postgres writes
 * the capsule (integrity record v2), the same rows are re-laid out (one row per line with leading
 * commas, pretty-printed like the original tool, one long line, gzip, encrypted), and each is
 * materialized; the target's rows must equal the source's (`row::text` checksums) and the content
 * hashes must verify. The bench (`npm run bench`) times the same paths at 200k–3M rows.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseExact, stringifyExact } from '../src/util/exact-json.js';
import { cli } from './helpers/cli.js';
import { useTestDatabase, withClient } from './helpers/db.js';

const ROWS = 20_000;
const KEY = 'b'.repeat(64);
const SCHEMA = `create table events (
  id bigint primary key, tenant_id text not null, user_id text not null, kind text not null,
  created_at timestamptz not null, amount numeric(20,6), ratio float8, tags text[],
  payload jsonb not null, note text)`;

const db = useTestDatabase('paths');
const tmp = { dir: mkdtempSync(join(tmpdir(), 'replay-paths-')) };
afterAll(() => rmSync(tmp.dir, { recursive: true, force: true }));
let source = '';
let manifestPath = '';
let sourceChecksum = '';

async function checksum(url: string): Promise<string> {
  return withClient(url, async (c) => {
    const { rows } = await c.query<{ m: string }>(
      `select count(*) || ':' || md5(string_agg(t::text, '|' order by t.id)) as m from events t`,
    );
    return rows[0]!.m;
  });
}

/** Rewrites the table sections of an exported (one row per line) capsule. */
function relayout(text: string, rows: (lines: string[]) => string): string {
  const out: string[] = [];
  let table: string[] | null = null;
  for (const line of text.split('\n')) {
    if (table) {
      if (/^\s*\]/.test(line)) {
        out.push(rows(table), line);
        table = null;
      } else table.push(line.trim().replace(/,$/, ''));
      continue;
    }
    out.push(line);
    if (/^"[^"]+":\[$/.test(line.trim()) && !line.includes('"graph"')) table = [];
  }
  return out.join('\n');
}

async function exportTo(out: string, extra: string[] = []): Promise<void> {
  const r = await cli(
    [
      'export-postgres',
      '--app',
      manifestPath,
      '--subject',
      'tenant_id=t1',
      '--subject',
      'user_id=u0',
      '--redaction',
      'raw',
      '--db-url',
      source,
      '--out',
      out,
      ...extra,
    ],
    { env: { REPLAY_CAPSULE_KEY: KEY } as never },
  );
  expect(r.code, r.stderr).toBe(0);
}

describe('every capsule layout, exported then materialized exactly', () => {
  beforeAll(async () => {
    source = db.url;
    await db.query(SCHEMA);
    await db.query('create table friends (tenant_id text, user_id text, friend_id text)');
    await db.query("insert into friends select 't1', 'u0', 'u' || i from generate_series(1, 99) i");
    await db.query(
      `insert into events select i, 't1', 'u' || (i % 100), (array['click','view','buy'])[1 + i % 3],
         timestamptz '2026-01-01' + make_interval(secs => i), (i * 1.25)::numeric(20,6), i / 7.0::float8,
         array['a' || i, null, 'q"u\\o,te'],
         jsonb_build_object('n', i, 'big', 12345678901234567890.10, 'nested', jsonb_build_object('ü', 'é👋', 'arr', jsonb_build_array(1.50, null, 'x\\y'))),
         case when i % 5 = 0 then null else E'line\\n' || repeat('ü', (i % 4)::int) || E'\\ttab "q" \\\\ ' || i end
       from generate_series(1::bigint, ${ROWS}::bigint) i`,
    );
    manifestPath = join(tmp.dir, 'paths.json');
    writeFileSync(
      manifestPath,
      JSON.stringify({
        appId: 'paths',
        adapter: 'postgres-subject-graph.v1',
        subjectKeys: ['tenant_id', 'user_id'],
        postgres: {
          graphEdges: [
            "select f.tenant_id, f.friend_id as user_id, 'friend'::text as reason from friends f join params p on f.tenant_id = p.tenant_id and f.user_id = p.user_id",
          ],
          tables: [
            {
              name: 'events',
              alias: 'e',
              from: 'events e join graph_keys g on g.tenant_id = e.tenant_id and g.user_id = e.user_id',
              orderBy: 'e.id',
              deletePredicate: 't.tenant_id = g.tenant_id and t.user_id = g.user_id',
            },
          ],
        },
      }),
    );
    sourceChecksum = await checksum(source);
    const line = join(tmp.dir, 'cap.json');
    await exportTo(line);
    const text = readFileSync(line, 'utf8');
    expect(text).toContain('"algorithm":"replay-env.rows-sha256-sum.v2"');
    const put = (name: string, content: string | Buffer) => writeFileSync(join(tmp.dir, name), content);
    put(
      'leading-commas.json',
      relayout(text, (rows) => rows.map((r, i) => (i ? `,${r}` : r)).join('\n')),
    );
    put(
      'pretty.json',
      relayout(text, (rows) => rows.map((r) => stringifyExact(parseExact(r), 2)).join(',\n')),
    );
    put('one-line.json', stringifyExact(parseExact(text)));
    put('cap.json.gz', gzipSync(readFileSync(line)));
    await exportTo(join(tmp.dir, 'cap.json.gz.enc'), ['--encrypt']);
  }, 300_000);

  const CASES: [name: string, file: string, strategy: 'copy' | 'jsonb', reader: string][] = [
    ['line layout (export-postgres)', 'cap.json', 'copy', 'lines'],
    ['line layout (export-postgres)', 'cap.json', 'jsonb', 'lines'],
    ['one row per line with leading commas', 'leading-commas.json', 'copy', 'lines'],
    ["pretty-printed (the original tool's layout)", 'pretty.json', 'copy', 'spooled'],
    ['one long line', 'one-line.json', 'copy', 'spooled'],
    ['.json.gz', 'cap.json.gz', 'copy', 'lines'],
    ['encrypted (.json.gz.enc)', 'cap.json.gz.enc', 'copy', 'lines'],
  ];

  it.each(CASES)(
    '%s, %s: rows equal the source, content hash verified',
    async (name, file, strategy, reader) => {
      const target = await db.create('pathst');
      await withClient(target, (c) => c.query(SCHEMA));
      const r = await cli(
        [
          'materialize-postgres',
          '--app',
          manifestPath,
          '--capsule',
          join(tmp.dir, file),
          '--db-url',
          target,
          '--load-strategy',
          strategy,
          '--json',
        ],
        { env: { REPLAY_CAPSULE_KEY: KEY } as never },
      );
      expect(r.code, `${name}: ${r.stderr}`).toBe(0);
      const result = JSON.parse(r.stdout) as {
        hashCheck: string;
        reader: string;
        counts: { hashMatch: boolean }[];
      };
      expect([result.hashCheck, result.reader]).toEqual(['verified', reader]);
      expect(result.counts[0]!.hashMatch).toBe(true);
      expect(await checksum(target)).toBe(sourceChecksum);
    },
    300_000,
  );
});
