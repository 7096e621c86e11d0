/**
 * Issue 14 (items 2–3): a social-graph capsule with referential closure loads into an empty
 * database (--create-schema) and into a schema-only one (one load plan ordered by foreign keys over
 * graph and closure-only tables), and loads again into a database that holds it (closure rows
 * referencing graph rows) with identical content.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { readForeignKeys } from '../src/postgres/catalog.js';
import { loadOrderChecks } from '../src/postgres/doctor/checks.js';
import { materializeCapsule } from '../src/postgres/materialize/materialize-capsule.js';
import { createSchemaHook } from '../src/postgres/materialize/zero-setup.js';
import { materializeForRun } from '../src/run/materialize-step.js';
import { cli } from './helpers/cli.js';
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

describe('undeclared children (message_tag not in the manifest), into a copy of the full database', () => {
  const bare = socialManifest({ withTags: false });
  let bareCapsule = '';
  const fullCopy = async (prefix: string) => {
    const url = await db.create(prefix);
    await withClient(url, (c) => c.query(SOCIAL_SCHEMA + SOCIAL_SEED));
    return url;
  };
  beforeAll(async () => {
    bareCapsule = await exportSocial(bare.manifest, db.url);
  }, 60_000);

  it('a blocked delete names the table, the constraint and the manifest fix; the target is unchanged', async () => {
    const url = await fullCopy('social_block');
    const before = await databaseChecksum(url);
    const err = await materializeCapsule({ manifest: bare.manifest, capsulePath: bareCapsule, url }).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(
      /deleting the graph's rows from message is blocked by rows of message_tag, which the manifest does not declare: they reference them through message_tag_message_id_fkey \(message_tag \(message_id\) → message \(id\)\)\. Declare message_tag in postgres\.tables with a deletePredicate/,
    );
    expect(err?.message).toContain('--delete-dependents');
    // Key values are not in the message (Postgres' DETAIL names them).
    expect(err?.message).not.toMatch(/\(100\)|\(103\)/);
    expect(await databaseChecksum(url)).toEqual(before);
  });

  it('--delete-dependents deletes exactly the referencing rows, lists and counts them; the rest is as before', async () => {
    const url = await fullCopy('social_dependents');
    const r = await materializeCapsule({
      manifest: bare.manifest,
      capsulePath: bareCapsule,
      url,
      deleteDependents: true,
    });
    expect(r.dependents).toEqual([
      { table: 'message_tag', constraint: 'message_tag_message_id_fkey', references: 'message', rows: 2 },
    ]);
    expect(r.warnings.join('\n')).toContain('deleted 2 rows of undeclared table message_tag');
    const rows = await withClient(
      url,
      async (c) => (await c.query('select message_id, tag_id from message_tag order by 1, 2')).rows,
    );
    // (100, 1) and (103, 2) referenced the graph's messages 100 and 103; 101 and 104 are not the graph's.
    expect(rows).toEqual([
      { message_id: 101, tag_id: 1 },
      { message_id: 104, tag_id: 2 },
    ]);
    // Everything else is the source's content again: rows other people hold that point at the
    // graph's rows (knows 5→1, likes of 100/103, reply 104, forum 11) survived the reload.
    const source = await databaseChecksum(db.url);
    const after = await databaseChecksum(url);
    for (const t of [
      'public.person',
      'public.knows',
      'public.forum',
      'public.message',
      'public.likes',
      'public.tag',
    ])
      expect(after.tables[t], t).toBe(source.tables[t]);
  });

  it('the CLI flag prints the deleted dependents; run records them in the trace', async () => {
    const url = await fullCopy('social_dep_cli');
    const r = await cli([
      'materialize-postgres',
      '--app',
      bare.path,
      '--capsule',
      bareCapsule,
      '--db-url',
      url,
      '--delete-dependents',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(
      'deleted dependents (--delete-dependents): 2 rows of message_tag referencing message (message_tag_message_id_fkey)',
    );
    const step = await materializeForRun({
      manifest: bare.manifest,
      capsulePath: bareCapsule,
      databaseUrl: await fullCopy('social_dep_run'),
      deleteDependents: true,
    });
    expect(step.record.status).toBe('ok');
    expect(step.record.dependentsDeleted).toEqual([
      { table: 'message_tag', constraint: 'message_tag_message_id_fkey', references: 'message', rows: 2 },
    ]);
    const blocked = await materializeForRun({
      manifest: bare.manifest,
      capsulePath: bareCapsule,
      databaseUrl: await fullCopy('social_dep_run_blocked'),
    });
    expect(blocked.record.status).toBe('failed');
    expect(blocked.record.error).toContain('blocked by rows of message_tag');
  });

  it('doctor names the undeclared child and checks the plan materialize uses (closure parents included)', async () => {
    const checks = await withClient(db.url, async (c) =>
      loadOrderChecks(bare.manifest, await readForeignKeys(c)),
    );
    const children = checks.filter((c) => c.id === 'fk-undeclared-child');
    // Every undeclared table pointing at a declared one: forum (→ person, also a closure parent),
    // message_tag (→ message), tag is only a parent.
    expect(children.map((c) => (c.details as { table: string }).table).sort()).toEqual([
      'forum',
      'message_tag',
    ]);
    const child = children.find((c) => c.message.includes('message_tag'));
    expect(child?.message).toMatch(
      /^undeclared table message_tag references declared message \(message_tag_message_id_fkey\): .*declare message_tag in postgres\.tables with a deletePredicate, or materialize with --delete-dependents/,
    );
    const order = checks.find((c) => c.id === 'load-order' && c.status === 'pass');
    const planned = (order?.details as { order: string[] } | undefined)?.order ?? [];
    expect(planned.indexOf('person')).toBeLessThan(planned.indexOf('forum'));
    expect(planned.indexOf('forum')).toBeLessThan(planned.indexOf('message'));
    expect(order?.message).toContain('undeclared parent tables referential closure adds');
  });
});
