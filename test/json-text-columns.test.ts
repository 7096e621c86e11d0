/**
 * json/jsonb columns carried as text (capsule schemaVersion 2) stay under redaction, the secret
 * scanner and the subject rewrite: rules see inside them, values nothing changed keep their exact
 * text, and a JSON null stays a JSON null through all of it.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateManifest } from '../src/manifest/load.js';
import { exportCapsule } from '../src/postgres/export/export-capsule.js';
import { materializeCapsule } from '../src/postgres/materialize/materialize-capsule.js';
import { planMaterialization } from '../src/postgres/materialize/plan.js';
import { useTestDatabase, withClient } from './helpers/db.js';

const SCHEMA = `
create table docs (id int primary key, tenant_id text not null, j json, jb jsonb, note text);
insert into docs values
  (1, 'acme', '{ "password" : "hunter2",  "keep": 1.10, "keep": 2 }', '{"password": "pw", "theme": "dark"}', 'a'),
  (2, 'acme', '{"owner":  {"tenant_id": "acme"},  "x" : [1 , 2]}', 'null', 'b'),
  (3, 'acme', '[ "untouched" ,  1.50 ]', '"a string"', 'c'),
  (4, 'acme', 'null', null, 'd');
`;

function manifest(rules: unknown[]) {
  return validateManifest(
    {
      appId: 'jsontext',
      adapter: 'postgres-subject-graph.v1',
      subjectKeys: ['tenant_id'],
      redactionRules: rules,
      postgres: {
        graphEdges: [],
        tables: [
          {
            name: 'docs',
            from: 'docs t join graph_keys g on g.tenant_id = t.tenant_id',
            orderBy: 't.id',
            deletePredicate: 't.tenant_id = g.tenant_id',
          },
        ],
      },
    },
    'jsontext.json',
  ).manifest;
}

function rowsOf(file: string): Record<string, unknown>[] {
  return JSON.parse(readFileSync(file, 'utf8')).tables.docs;
}

describe('json/jsonb carried as text under redaction, scanning and subject rewrite', () => {
  const db = useTestDatabase('json_text');
  const dir = mkdtempSync(join(tmpdir(), 'json-text-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  beforeAll(() => db.query(SCHEMA));

  it('a rule redacts inside a json column carried as text; untouched values keep their exact text', async () => {
    const out = join(dir, 'safe.json');
    await exportCapsule({
      manifest: manifest([{ fields: ['password'], action: 'empty' }]),
      subject: { tenant_id: 'acme' },
      databaseUrl: db.url,
      out,
      redaction: 'safe',
    });
    const rows = rowsOf(out);
    // Redacted inside the json text (re-encoded compactly; duplicate keys collapse: last wins).
    expect(rows[0]!.j).toBe('{"password":"","keep":2}');
    expect(rows[0]!.jb).toEqual({ password: '', theme: 'dark' });
    // Nothing to redact: exact text, JSON null / JSON string as their jsonb text, SQL NULL null.
    expect(rows[1]!.j).toBe('{"owner":  {"tenant_id": "acme"},  "x" : [1 , 2]}');
    expect(rows[1]!.jb).toBe('null');
    expect(rows[2]!.j).toBe('[ "untouched" ,  1.50 ]');
    expect(rows[2]!.jb).toBe('"a string"');
    expect(rows[3]!.j).toBe('null');
    expect(rows[3]!.jb).toBeNull();
    expect(readFileSync(out, 'utf8')).not.toContain('hunter2');
  });

  it('the secret scanner finds a secret-named field inside a json column carried as text', async () => {
    await expect(
      exportCapsule({
        manifest: manifest([]),
        subject: { tenant_id: 'acme' },
        databaseUrl: db.url,
        out: join(dir, 'scan.json'),
        redaction: 'safe',
      }),
    ).rejects.toThrow(/docs\[0\] j\.password: secret-field/);
  });

  it('the subject rewrite reaches inside json text; other values load byte-identical (both strategies)', async () => {
    const out = join(dir, 'raw.json');
    await exportCapsule({
      manifest: manifest([]),
      subject: { tenant_id: 'acme' },
      databaseUrl: db.url,
      out,
      redaction: 'raw',
    });
    const source = await db.query<{ id: number; j: string | null; jb: string | null }>(
      'select id, j::text as j, jb::text as jb from docs order by id',
    );
    for (const strategy of ['copy', 'jsonb'] as const) {
      const target = await db.create('json_text_target');
      await withClient(target, (c) => c.query(SCHEMA.replace(/insert into[^;]*;/s, '')));
      const m = await materializeCapsule({
        manifest: manifest([]),
        capsulePath: out,
        url: target,
        strategy,
        rewrite: { tenant_id: 'local' },
      });
      expect(m.status).toBe('ok');
      const loaded = await withClient(target, (c) =>
        c.query<{ id: number; j: string | null; jb: string | null; jnull: boolean; jbnull: boolean }>(
          'select id, j::text as j, jb::text as jb, j is null as jnull, jb is null as jbnull from docs order by id',
        ),
      );
      const byId = new Map(loaded.rows.map((r) => [r.id, r]));
      // Row 2 held the subject inside its json: rewritten (and re-encoded).
      expect(byId.get(2)!.j, strategy).toBe('{"owner":{"tenant_id":"local"},"x":[1,2]}');
      for (const id of [1, 3, 4]) {
        const src = source.rows.find((r) => r.id === id)!;
        expect(byId.get(id)!.j, `${strategy} j ${id}`).toBe(src.j);
        expect(byId.get(id)!.jb, `${strategy} jb ${id}`).toBe(src.jb);
      }
      // JSON null stays JSON null, SQL NULL stays SQL NULL.
      expect(byId.get(2)!.jb).toBe('null');
      expect(byId.get(2)!.jbnull).toBe(false);
      expect(byId.get(4)!.jbnull).toBe(true);
      expect(byId.get(4)!.jnull).toBe(false);
    }
  });

  it('--dry-run-sql (jsonb) casts json carried as text: its INSERT loads the exact text', async () => {
    const out = join(dir, 'raw.json');
    const script = await planMaterialization({
      manifest: manifest([]),
      capsulePath: out,
      strategy: 'jsonb',
      sampleRows: 10,
    });
    const insert = script.split('\n').find((l) => l.startsWith('insert into "docs"'));
    expect(insert).toContain(`(e.v ->> 'j')::json`);
    const target = await db.create('json_text_plan');
    await withClient(target, (c) => c.query(SCHEMA.replace(/insert into[^;]*;/s, '')));
    await withClient(target, (c) => c.query(insert!));
    const got = await withClient(target, (c) =>
      c.query<{ j: string | null; jb: string | null }>(
        'select j::text as j, jb::text as jb from docs order by id',
      ),
    );
    const src = await db.query<{ j: string | null; jb: string | null }>(
      'select j::text as j, jb::text as jb from docs order by id',
    );
    expect(got.rows).toEqual(src.rows);
  });
});
