/**
 * Referential-closure rows into non-empty targets: closure rows are reference data (ON CONFLICT DO
 * NOTHING, the target's existing row wins), graph rows keep delete-then-insert, and the integrity
 * check stays exact (closure rows looked up by key). Real exporter with closure, real Postgres.
 *
 * Source: two customers (1 and 2) in the graph of their own capsules, both referred by customer 3
 * (a closure row of the declared `customers` table), both ordering product 10 (shared parent),
 * plans/products/categories/countries only closure adds.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateManifest } from '../src/manifest/load.js';
import type { Manifest } from '../src/manifest/schema.js';
import { exportCapsule } from '../src/postgres/export/export-capsule.js';
import { zeroSetupHooks } from '../src/postgres/export/zero-setup.js';
import {
  type LoadStrategy,
  materializeCapsule,
  planMaterialization,
} from '../src/postgres/materialize/materialize-capsule.js';
import { createSchemaHook } from '../src/postgres/materialize/zero-setup.js';
import { tableChecksums } from './helpers/catalog-compare.js';
import { cli } from './helpers/cli.js';
import { useTestDatabase, withClient } from './helpers/db.js';

const db = useTestDatabase('closmat');
const dir = mkdtempSync(join(tmpdir(), 'replay-closmat-'));

const SCHEMA = `
  create table countries (code text primary key, name text not null unique);
  create table categories (code text primary key, label text not null);
  create table plans (id int primary key, name text not null, price numeric(10,2) not null);
  create table products (
    id int primary key, name text not null, price numeric(12,4) not null,
    category text not null references categories (code), tags text[] not null default '{}'
  );
  create table customers (
    id int primary key, name text not null, email text,
    plan_id int not null references plans (id), country text not null references countries (code),
    referred_by int references customers (id), settings jsonb
  );
  create table orders (
    id bigint generated always as identity primary key,
    customer_id int not null references customers (id),
    product_id int not null references products (id),
    qty int not null, note jsonb
  );
`;

const SEED = `
  insert into countries values ('DE', 'Germany'), ('FR', 'France'), ('IT', 'Italy');
  insert into categories values ('tools', 'Tools'), ('toys', 'Toys'), ('food', 'Food');
  insert into plans values (1, 'basic', 9.99), (2, 'pro', 49.50), (3, 'unused', 0);
  insert into products values
    (10, 'hammer', 12.5000, 'tools', '{heavy,"a,b"}'),
    (11, 'kite', 7.2500, 'toys', '{}'),
    (12, 'bread', 2.1000, 'food', '{fresh}'),
    (13, 'unordered', 1, 'food', '{}');
  insert into customers values
    (3, 'Referrer', 'ref@example.com', 2, 'IT', null, '{"vip": true}'),
    (1, 'Alice', 'alice@example.com', 1, 'DE', 3, '{"lang": "de", "n": 12345678901234567890}'),
    (2, 'Bob', 'bob@example.com', 1, 'FR', 3, null);
  insert into orders (customer_id, product_id, qty, note) values
    (1, 10, 1, '{"gift": false}'), (1, 11, 2, null), (2, 10, 5, '{"x": [1, 2.50]}'), (2, 12, 3, null);
`;

const MANIFEST = {
  appId: 'closmat',
  adapter: 'postgres-subject-graph.v1',
  subjectKeys: ['customer_id'],
  postgres: {
    tableOrder: ['customers', 'orders'],
    tables: [
      {
        name: 'customers',
        alias: 'c',
        from: 'customers c join graph_keys g on g.customer_id = c.id::text',
        orderBy: 'c.id',
        deletePredicate: 't.id::text = g.customer_id',
      },
      {
        name: 'orders',
        alias: 'o',
        from: 'orders o join graph_keys g on g.customer_id = o.customer_id::text',
        orderBy: 'o.id',
        deletePredicate: 't.customer_id::text = g.customer_id',
      },
    ],
  },
  redactionRules: [{ fields: ['email'], action: 'hash', prefix: 'email-' }],
};

const TABLES = ['countries', 'categories', 'plans', 'products', 'customers', 'orders'];

function manifest(): Manifest {
  const path = join(dir, 'closmat.json');
  writeFileSync(path, JSON.stringify(MANIFEST));
  return validateManifest(MANIFEST, path).manifest;
}

let capsules: { a: string; b: string } | null = null;

/** Exports customer 1 (capsule A) and customer 2 (capsule B) once, with closure and schema. */
async function exportCapsules(): Promise<{ a: string; b: string }> {
  if (capsules) return capsules;
  await db.query(SCHEMA);
  await db.query(SEED);
  const m = manifest();
  const out = async (customer: string) => {
    const path = join(dir, `customer-${customer}.json`);
    const hooks = zeroSetupHooks(m);
    await exportCapsule({
      manifest: m,
      subject: { customer_id: customer },
      databaseUrl: db.url,
      out: path,
      extraRows: hooks.extraRows,
      extraSections: hooks.extraSections,
    });
    return path;
  };
  capsules = { a: await out('1'), b: await out('2') };
  return capsules;
}

/** A target with the schema applied (a normal, existing replay database). */
async function targetWithSchema(prefix: string): Promise<string> {
  const url = await db.create(prefix);
  await withClient(url, (c) => c.query(SCHEMA));
  return url;
}

const rowsOf = (url: string, sql: string) =>
  withClient(url, async (c) => (await c.query(sql)).rows.map((r) => Object.values(r).join('|')));

describe('closure capsules (exporter output the tests rely on)', () => {
  it('capsule A holds customer 1 plus closure rows: referrer 3, plan, country, products, categories', async () => {
    const { a, b } = await exportCapsules();
    const ca = JSON.parse(readFileSync(a, 'utf8'));
    expect(ca.tables.customers.map((r: { id: number }) => r.id)).toEqual([1, 3]); // 3: closure, last
    expect(ca.closure.tables.customers).toEqual({ rows: 1, reasons: { 'fk:customers_referred_by_fkey': 1 } });
    expect(ca.closure.addedTables.sort()).toEqual(['categories', 'countries', 'plans', 'products']);
    expect(ca.tables.products.map((r: { id: number }) => r.id).sort()).toEqual([10, 11]);
    const cb = JSON.parse(readFileSync(b, 'utf8'));
    expect(cb.tables.customers.map((r: { id: number }) => r.id)).toEqual([2, 3]);
    expect(cb.tables.products.map((r: { id: number }) => r.id).sort()).toEqual([10, 12]);
  });
});

describe.each(['jsonb', 'copy'] as LoadStrategy[])('materializing closure rows (strategy %s)', (strategy) => {
  const load = (
    capsulePath: string,
    url: string,
    extra: Partial<Parameters<typeof materializeCapsule>[0]> = {},
  ) => materializeCapsule({ manifest: manifest(), capsulePath, url, strategy, chunkSize: 2, ...extra });

  it('(a) into an empty database: --create-schema and schema-applied, exact counts and hashes', async () => {
    const { a } = await exportCapsules();
    const created = await db.create('closmat_cs');
    const r1 = await load(a, created, { prepareTarget: createSchemaHook({ capsulePath: a }) });
    expect(r1.counts.every((c) => c.database === c.capsule && c.hashMatch === true)).toBe(true);
    expect(r1.closure).toMatchObject({ rows: 9, alreadyPresent: 0 });
    expect(r1.closure!.tables.every((t) => t.check === 'whole-table')).toBe(true);

    const applied = await targetWithSchema('closmat_empty');
    const r2 = await load(a, applied);
    expect(r2.counts.map((c) => [c.table, c.capsule, c.database, c.hashMatch])).toEqual(
      r1.counts.map((c) => [c.table, c.capsule, c.capsule, true]),
    );
    expect(r2.closure).toMatchObject({ rows: 9, alreadyPresent: 0 });
    expect(r2.closure!.tables.every((t) => t.check === 'key')).toBe(true);
    // Same data either way.
    expect(await tableChecksums(applied, TABLES)).toEqual(await tableChecksums(created, TABLES));
  });

  it('(b) the same capsule twice: the second run succeeds, closure rows already present, same checksums', async () => {
    const { a } = await exportCapsules();
    const url = await targetWithSchema('closmat_twice');
    await load(a, url);
    const first = await tableChecksums(url, TABLES);
    const r = await load(a, url);
    expect(r.status).toBe('ok');
    expect(r.closure).toMatchObject({ rows: 9, alreadyPresent: 9 });
    // Graph rows replaced and verified exactly; closure rows found by key.
    expect(r.counts.every((c) => c.database === c.capsule)).toBe(true);
    expect(r.counts.find((c) => c.table === 'customers')!.hashMatch).toBe(true); // graph row hashed
    expect(r.counts.find((c) => c.table === 'orders')!.hashMatch).toBe(true);
    expect(r.counts.find((c) => c.table === 'products')!.hashMatch).toBeNull(); // target's rows kept
    expect(await tableChecksums(url, TABLES)).toEqual(first);
  });

  it('(c) customer 1 then customer 2 sharing parents: both load, shared parents once', async () => {
    const { a, b } = await exportCapsules();
    const url = await targetWithSchema('closmat_ab');
    const ra = await load(a, url);
    const rb = await load(b, url);
    expect(ra.closure!.alreadyPresent).toBe(0);
    // B's closure: referrer 3, plans 1 and 2, IT, product 10, tools are A's already; FR, 12, food new.
    const byTable = Object.fromEntries(rb.closure!.tables.map((t) => [t.table, t.alreadyPresent]));
    expect(byTable).toEqual({ customers: 1, plans: 2, products: 1, categories: 1, countries: 1 });
    expect(rb.counts.every((c) => c.database === c.capsule)).toBe(true);
    expect(await rowsOf(url, 'select id, name from customers order by id')).toEqual([
      '1|Alice',
      '2|Bob',
      '3|Referrer',
    ]);
    expect(await rowsOf(url, 'select customer_id, product_id, qty from orders order by id')).toEqual([
      '1|10|1',
      '1|11|2',
      '2|10|5',
      '2|12|3',
    ]);
    expect(await rowsOf(url, 'select id from products order by id')).toEqual(['10', '11', '12']);
    expect(await rowsOf(url, 'select code from countries order by code')).toEqual(['DE', 'FR', 'IT']);
    expect(await rowsOf(url, 'select id from plans order by id')).toEqual(['1', '2']);
    // Reloading A on top keeps B's rows.
    await load(a, url);
    expect(await rowsOf(url, 'select count(*) from orders where customer_id = 2')).toEqual(['2']);
  });

  it('an existing parent row wins over the capsule copy (documented), and is counted', async () => {
    const { a } = await exportCapsules();
    const url = await targetWithSchema('closmat_wins');
    await withClient(url, (c) =>
      c.query(
        "insert into categories values ('tools', 'Local tools label'); insert into plans values (1, 'local basic', 1)",
      ),
    );
    const r = await load(a, url);
    expect(r.closure!.alreadyPresent).toBe(2);
    expect(await rowsOf(url, 'select label from categories where code = $$tools$$')).toEqual([
      'Local tools label',
    ]);
    expect(await rowsOf(url, 'select name from plans where id = 1')).toEqual(['local basic']);
  });

  it('(e) a failure after closure rows were inserted rolls back everything', async () => {
    const { a, b } = await exportCapsules();
    const url = await targetWithSchema('closmat_fail');
    await load(b, url);
    // orders load after every closure row (products, customers' referrer…): make them fail there.
    await withClient(url, (c) =>
      c.query('alter table orders add constraint small_qty check (qty < 2) not valid'),
    );
    const before = await tableChecksums(url, TABLES);
    await expect(load(a, url)).rejects.toThrow(/table orders.*small_qty.*rolled back/s);
    expect(await tableChecksums(url, TABLES)).toEqual(before);
  });

  it('(e) a closure row skipped for another unique value fails the key check and rolls back', async () => {
    const { a } = await exportCapsules();
    const url = await targetWithSchema('closmat_unique');
    // 'XX' holds the name 'Germany': DE (a closure row of A) is skipped on countries_name_key. The
    // deferred foreign key lets the load reach the check (a plain one would fail on the insert).
    await withClient(url, (c) =>
      c.query(
        "insert into countries values ('XX', 'Germany'); alter table customers alter constraint customers_country_fkey deferrable",
      ),
    );
    const before = await tableChecksums(url, TABLES);
    await expect(load(a, url)).rejects.toThrow(
      /countries: 1 of 2 referential-closure rows are not in the target after the load \(looked up by primary key code\).*rolled back/s,
    );
    expect(await tableChecksums(url, TABLES)).toEqual(before);
  });
});

describe('materialize-postgres CLI with closure rows', () => {
  it('reports how many closure rows were already present, and loads twice without error', async () => {
    const { a } = await exportCapsules();
    const url = await targetWithSchema('closmat_cli');
    manifest(); // writes the manifest file
    const args = [
      'materialize-postgres',
      '--app',
      join(dir, 'closmat.json'),
      '--capsule',
      a,
      '--db-url',
      url,
    ];
    const first = await cli(args);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('closure: 9 rows, 0 already present\n');
    const second = await cli([...args, '--load-strategy', 'copy']);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('closure: 9 rows, 9 already present (kept as they were in the target)');
    expect(second.stdout).toMatch(/^customers\s+2\s+2\s+match$/m);
  });
});

describe('closure rows in --dry-run-sql', () => {
  it('shows closure-only tables and the conflict-tolerant inserts (jsonb and copy)', async () => {
    const { a } = await exportCapsules();
    const jsonb = await planMaterialization({ manifest: manifest(), capsulePath: a, strategy: 'jsonb' });
    for (const t of ['countries', 'categories', 'plans', 'products'])
      expect(jsonb).toMatch(new RegExp(`insert into "${t}" .* on conflict do nothing;`));
    // customers: the graph row plain, the closure row (referrer 3) conflict-tolerant.
    // (`settings` is jsonb carried as text: the insert reads it beside jsonb_populate_record(…) r.)
    expect(jsonb).toMatch(/insert into "customers" .*"id":1[,}].*\)( r)?(?!.*on conflict);/);
    expect(jsonb).toMatch(/insert into "customers" .*"id":3[,}].* on conflict do nothing;/);
    expect(jsonb).not.toMatch(/delete from "countries"/);
    // Closure-only tables come first (parents first), before the declared ones.
    expect(jsonb.indexOf('insert into "countries"')).toBeLessThan(jsonb.indexOf('insert into "customers"'));
    const copy = await planMaterialization({ manifest: manifest(), capsulePath: a, strategy: 'copy' });
    expect(copy).toMatch(
      /create temp table replay_closure_stage on commit drop as select .* from "products" with no data;/,
    );
    expect(copy).toMatch(/copy "replay_closure_stage" \(.*\) from stdin;/);
    expect(copy).toMatch(
      /insert into "products" \(.*\) select .* from replay_closure_stage on conflict do nothing;/,
    );
  });
});
