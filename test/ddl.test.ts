import { join } from 'node:path';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createSchemaFromCapsule, parseSchemaSection } from '../src/postgres/schema/create-schema.js';
import { foreignKeyAncestors, readSchemaSection, type SchemaSection } from '../src/postgres/schema/ddl.js';
import { catalogSnapshot, tableChecksums } from './helpers/catalog-compare.js';
import { REPO_ROOT } from './helpers/cli.js';
import { useTestDatabase, withClient } from './helpers/db.js';

const db = useTestDatabase('ddl');
const TABLES = ['orgs', 'users', 'billing.invoices', 'comments'];
const QUALIFIED = ['public.orgs', 'public.users', 'billing.invoices', 'public.comments'];

/** Test loader: the source's rows as JSON, inserted without generated columns. */
async function copyRows(sourceUrl: string, targetClient: pg.Client, section: SchemaSection): Promise<void> {
  for (const t of section.tables) {
    const q = `"${t.schema}"."${t.relname}"`;
    const rows = await withClient(sourceUrl, async (c) => {
      const r = await c.query<{ j: unknown }>(
        `select coalesce(jsonb_agg(to_jsonb(x)), '[]') as j from ${q} x`,
      );
      return r.rows[0]!.j;
    });
    const cols = t.columns.filter((c) => c.generated === null).map((c) => `"${c.name}"`);
    await targetClient.query(
      `insert into ${q} (${cols.join(', ')}) select ${cols.join(', ')} from jsonb_populate_recordset(null::${q}, $1::jsonb)`,
      [JSON.stringify(rows)],
    );
  }
}

async function recreate(section: SchemaSection, opts: { replace?: boolean; load?: boolean } = {}) {
  const url = await db.create('ddl_target');
  await withClient(url, async (c) => {
    await c.query('begin');
    const created = await createSchemaFromCapsule(c, section, { replace: opts.replace });
    if (opts.load !== false) await copyRows(db.url, c, section);
    await created.finish();
    await c.query('commit');
  });
  return url;
}

describe('schema section: read from the catalog, recreate on an empty database', () => {
  it('recreates columns, types, defaults, constraints, indexes, sequences and partitions exactly', async () => {
    await db.runFile(join(REPO_ROOT, 'test/fixtures/ddl/rich-schema.sql'));
    const section = await withClient(db.url, (c) => readSchemaSection(c, TABLES));
    // The capsule stores it as JSON: go through JSON and the reader's validation.
    const parsed = parseSchemaSection(JSON.parse(JSON.stringify(section)), 'test capsule');
    expect(parsed.version).toBe(1);
    expect(parsed.schemas).toEqual(['billing']);
    expect(parsed.types.map((t) => `${t.schema}.${t.name}:${t.kind}`).sort()).toEqual([
      'billing.money_pair:composite',
      'public.email:domain',
      'public.mood:enum',
      'public.positive_cents:domain',
    ]);
    expect(parsed.tables.find((t) => t.name === 'billing.invoices')?.partitions.map((p) => p.bound)).toEqual([
      "FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')",
      "FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')",
      'DEFAULT',
    ]);
    // FK parents before children.
    const order = parsed.tables.map((t) => t.name);
    expect(order.indexOf('orgs')).toBeLessThan(order.indexOf('users'));
    expect(order.indexOf('users')).toBeLessThan(order.indexOf('billing.invoices'));

    const target = await recreate(parsed);
    const [source, copy] = await Promise.all([
      catalogSnapshot(db.url, ['public', 'billing']),
      catalogSnapshot(target, ['public', 'billing']),
    ]);
    expect(copy.columns).toEqual(source.columns);
    expect(copy.constraints).toEqual(source.constraints);
    expect(copy.indexes).toEqual(source.indexes);
    expect(copy.types).toEqual(source.types);
    expect(copy.sequences).toEqual(source.sequences);
    expect(copy.partitions).toEqual(source.partitions);
    // And the data.
    expect(await tableChecksums(target, QUALIFIED)).toEqual(await tableChecksums(db.url, QUALIFIED));
    // Sequences moved past the loaded ids: the app's next insert does not collide.
    await withClient(target, async (c) => {
      const u = await c.query<{ id: string }>(
        "insert into users (org_id, email) values (10, 'new@x.io') returning id",
      );
      expect(Number(u.rows[0]!.id)).toBe(4);
      const o = await c.query<{ id: number }>(
        "insert into orgs (slug, name) values ('new', 'N') returning id",
      );
      expect(o.rows[0]!.id).toBe(12);
      // Identity is ALWAYS again after the load.
      await expect(c.query("insert into orgs (id, slug, name) values (99, 'x', 'x')")).rejects.toThrow(
        /cannot insert a non-DEFAULT value into column "id"/,
      );
      // Constraints are enforced.
      await expect(c.query("insert into users (org_id, email) values (999, 'z@x.io')")).rejects.toThrow(
        /violates foreign key constraint "users_org_id_fkey"/,
      );
      await expect(c.query("insert into users (org_id, email) values (10, 'no-at-sign')")).rejects.toThrow(
        /violates check constraint "email_check"/,
      );
    });
  });

  it('leaves out foreign keys to tables not in the section, and lists them', async () => {
    const section = await withClient(db.url, (c) => readSchemaSection(c, ['users']));
    expect(section.omittedForeignKeys).toEqual([
      {
        table: 'users',
        constraint: 'users_org_id_fkey',
        references: 'orgs',
        reason: 'the referenced table is not in the capsule',
      },
    ]);
    const target = await recreate(section, { load: false });
    const snap = await catalogSnapshot(target);
    expect(snap.constraints.some((c) => c.includes('FOREIGN KEY'))).toBe(false);
    expect(snap.constraints.some((c) => c.includes('users_pkey'))).toBe(true);
  });

  it('finds the FK ancestors of a table, recursively', async () => {
    const all = await withClient(db.url, (c) => foreignKeyAncestors(c, ['billing.invoices']));
    expect(all).toEqual(['billing.invoices', 'users', 'orgs']);
    const excluded = await withClient(db.url, (c) => foreignKeyAncestors(c, ['comments'], new Set(['orgs'])));
    expect(excluded.sort()).toEqual(['comments', 'users']);
  });

  it('refuses a database that already has the tables, and replaces them when told to', async () => {
    const section = await withClient(db.url, (c) => readSchemaSection(c, ['orgs']));
    const target = await recreate(section, { load: false });
    await withClient(target, async (c) => {
      await c.query("insert into orgs (slug, name) values ('keep', 'Keep')");
      await expect(createSchemaFromCapsule(c, section)).rejects.toThrow(
        /already has "public"\."orgs".*--replace-schema/,
      );
      // Nothing was dropped by the refusal.
      expect((await c.query('select count(*)::int as n from orgs')).rows[0].n).toBe(1);
      await c.query('begin');
      const created = await createSchemaFromCapsule(c, section, { replace: true });
      await created.finish();
      await c.query('commit');
      expect((await c.query('select count(*)::int as n from orgs')).rows[0].n).toBe(0);
    });
  });

  it('rejects a schema section of an unknown version with a clear message', () => {
    expect(() => parseSchemaSection({ version: 2 }, 'c.json')).toThrow(/c\.json: schema\.version must be 1/);
    expect(() => parseSchemaSection(undefined, 'c.json')).toThrow(/carries no schema section/);
  });
});
