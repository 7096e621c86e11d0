/**
 * Issue 14 (items 2–3): a social-graph capsule with referential closure loads into an empty
 * database (--create-schema) and into a schema-only one (one load plan ordered by foreign keys over
 * graph and closure-only tables), and loads again into a database that holds it (closure rows
 * referencing graph rows) with identical content.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { materializeCapsule } from '../src/postgres/materialize/index.js';
import { createSchemaHook } from '../src/postgres/zero-setup-materialize.js';
import { useTestDatabase, withClient } from './helpers/db.js';
import { databaseChecksum } from './helpers/db-checksum.js';
import { exportSocial, SOCIAL_SCHEMA, SOCIAL_SEED, socialManifest } from './helpers/social-graph.js';

const db = useTestDatabase('social');
let capsule = '';
const { manifest } = socialManifest();

beforeAll(async () => {
  await db.query(SOCIAL_SCHEMA);
  await db.query(SOCIAL_SEED);
  capsule = await exportSocial(manifest, db.url);
}, 60_000);

async function schemaOnly(prefix: string): Promise<string> {
  const url = await db.create(prefix);
  await withClient(url, (c) => c.query(SOCIAL_SCHEMA));
  return url;
}

describe('social graph capsule (the fixture the tests rely on)', () => {
  it('has closure rows referencing graph rows: forum 11 (moderator 1) and message 101 (reply to 100)', () => {
    const c = JSON.parse(readFileSync(capsule, 'utf8'));
    expect(c.graph.map((g: { person_id: string }) => g.person_id)).toEqual(['1', '2']);
    expect(c.tables.forum.map((r: { id: number }) => r.id).sort()).toEqual([10, 11]);
    expect(c.tables.message.map((r: { id: number }) => r.id)).toEqual([100, 102, 103, 101]);
    expect(c.closure.tables.message.rows).toBe(1);
    expect(c.tables.person.map((r: { id: number }) => r.id).sort()).toEqual([1, 2, 3, 4]);
  });
});

describe.each(['jsonb', 'copy'] as const)('social graph, %s', (strategy) => {
  const load = (url: string, extra: Partial<Parameters<typeof materializeCapsule>[0]> = {}) =>
    materializeCapsule({ manifest, capsulePath: capsule, url, strategy, chunkSize: 2, ...extra });

  it('loads into an empty database with --create-schema and into a schema-only one, the same rows', async () => {
    const created = await db.create('social_cs');
    const r1 = await load(created, { prepareTarget: createSchemaHook({ capsulePath: capsule }) });
    expect(r1.status).toBe('ok');
    const applied = await schemaOnly('social_so');
    const r2 = await load(applied);
    expect(r2.status).toBe('ok');
    // Parents first across graph and closure-only tables: forum after person, message after forum.
    const order = r2.loadOrder;
    expect(order.indexOf('person')).toBeLessThan(order.indexOf('forum'));
    expect(order.indexOf('forum')).toBeLessThan(order.indexOf('message'));
    for (const c of r2.counts) expect(c.database, c.table).toBe(c.capsule);
    const a = await databaseChecksum(created);
    const b = await databaseChecksum(applied);
    expect(b.tables).toEqual(a.tables);
  });

  it('loads twice into the database it created: identical table checksums', async () => {
    const url = await schemaOnly('social_twice');
    await load(url);
    const first = await databaseChecksum(url);
    const again = await load(url);
    expect(again.status).toBe('ok');
    for (const c of again.counts) expect(c.database, c.table).toBe(c.capsule);
    const second = await databaseChecksum(url);
    expect(second.tables).toEqual(first.tables);
    // The foreign keys checked at the end of the load are NOT DEFERRABLE again, as before.
    expect(second.catalog).toBe(first.catalog);
  });

  it('loads twice into a database --create-schema made', async () => {
    const url = await db.create('social_cs_twice');
    await load(url, { prepareTarget: createSchemaHook({ capsulePath: capsule }) });
    const first = await databaseChecksum(url);
    await load(url);
    expect((await databaseChecksum(url)).tables).toEqual(first.tables);
  });
});
