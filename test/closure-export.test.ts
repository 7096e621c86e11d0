/**
 * Schema-carrying capsules end to end: export (with closure and schema) → materialize into an
 * EMPTY database with --create-schema → the catalog and the data match the source.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadManifest } from '../src/manifest/load.js';
import { exportCapsule } from '../src/postgres/export/export-capsule.js';
import { zeroSetupHooks } from '../src/postgres/export/zero-setup.js';
import { materializeCapsule } from '../src/postgres/materialize/materialize-capsule.js';
import { type CreateSchemaReport, createSchemaHook } from '../src/postgres/materialize/zero-setup.js';
import { catalogSnapshot, tableChecksums } from './helpers/catalog-compare.js';
import { REPO_ROOT } from './helpers/cli.js';
import { useTestDatabase, withClient } from './helpers/db.js';

const db = useTestDatabase('zsexport');
const EXAMPLE = join(REPO_ROOT, 'examples/socialapp');
const dir = mkdtempSync(join(tmpdir(), 'replay-zs-'));

async function exportAda(out: string) {
  const { manifest } = await loadManifest(join(REPO_ROOT, 'config/apps/socialapp.json'));
  const hooks = zeroSetupHooks(manifest);
  const result = await exportCapsule({
    manifest,
    subject: { tenant_id: 'acme', user_id: 'ada' },
    databaseUrl: db.url,
    out,
    extraRows: hooks.extraRows,
    extraSections: hooks.extraSections,
  });
  return { manifest, result, capsule: JSON.parse(readFileSync(out, 'utf8')) };
}

describe('schema-carrying capsule with referential closure', () => {
  it('exports closure rows (redacted) and the schema, and loads into an empty database with FKs on', async () => {
    await db.runFile(join(EXAMPLE, 'schema.sql'));
    await db.runFile(join(EXAMPLE, 'seed.sql'));
    const out = join(dir, 'ada.json');
    const { manifest, result, capsule } = await exportAda(out);

    // Graph: ada, bob (messaged), cy (messaged/messaged_by). dee only arrives through closure.
    expect(capsule.graph.map((g: { user_id: string }) => g.user_id)).toEqual(['ada', 'bob', 'cy']);
    const users = capsule.tables.users.map((u: { user_id: string }) => u.user_id);
    expect(users).toEqual(['ada', 'bob', 'cy', 'dee']); // dee appended after the exported rows
    // Closure rows are redacted like every row: no API token, hashed email.
    const dee = capsule.tables.users[3];
    expect(dee.api_token).toBeNull();
    expect(dee.email).toMatch(/^email-[0-9a-f]{12}$/);
    expect(capsule.tables.workspaces.map((w: { id: string }) => w.id).sort()).toEqual([
      'ws-acme-eng',
      'ws-acme-ops',
      'ws-acme-sales',
    ]);
    expect(capsule.closure.tables).toEqual({
      messages: { rows: 1, reasons: { 'fk:reactions_message_id_fkey': 1 } },
      users: { rows: 1, reasons: { 'fk:messages_tenant_id_sender_user_id_fkey': 1 } },
      workspaces: { rows: 3, reasons: { 'fk:users_workspace_id_fkey': 3 } },
    });
    expect(capsule.closure.addedTables).toEqual(['workspaces']);
    expect(result.counts).toMatchObject({ users: 4, messages: 5, reactions: 5, workspaces: 3 });
    expect(capsule.integrity.tables.workspaces.rows).toBe(3);
    expect(capsule.schema.version).toBe(1);
    expect(capsule.schema.types.map((t: { name: string }) => t.name)).toEqual(['reaction_kind']);

    // Materialize into an empty database, creating the schema.
    const target = await db.create('zs_target');
    let report: CreateSchemaReport | undefined;
    const m = await materializeCapsule({
      manifest,
      capsulePath: out,
      url: target,
      prepareTarget: createSchemaHook({ capsulePath: out, report: (r) => (report = r) }),
    });
    expect(m.status).toBe('ok');
    expect(m.counts.every((c) => c.hashMatch === true && c.database === c.capsule)).toBe(true);
    expect(report?.tables.sort()).toEqual(['messages', 'reactions', 'users', 'workspaces']);
    // The catalog matches the source, every FK is validated.
    const [src, copy] = await Promise.all([catalogSnapshot(db.url), catalogSnapshot(target)]);
    expect(copy.columns).toEqual(src.columns);
    expect(copy.constraints).toEqual(src.constraints);
    expect(copy.indexes).toEqual(src.indexes);
    expect(copy.types).toEqual(src.types);
    // The data: the loaded rows equal the source's rows for the same keys (redacted columns aside).
    const rowsOf = (url: string) =>
      withClient(url, async (c) => {
        const r = await c.query(
          `select 'm' || id || sender_user_id || recipient_user_id || body as x from messages
           union all select 'r' || id || user_id || message_id || kind from reactions
           union all select 'w' || id || name from workspaces
           union all select 'u' || user_id || display_name || workspace_id from users order by 1`,
        );
        return r.rows.map((x) => x.x as string);
      });
    const loaded = await rowsOf(target);
    const source = new Set(await rowsOf(db.url));
    for (const row of loaded) expect(source.has(row), row).toBe(true);
    expect(loaded.length).toBe(17);
  });

  it('round-trips a raw capsule exactly: same catalog, same data checksums', async () => {
    const { manifest } = await loadManifest(join(REPO_ROOT, 'config/apps/socialapp.json'));
    // Export everyone in acme's graph of cy (raw: no redaction), then compare checksums of the
    // exported rows with the same rows in the source.
    const out = join(dir, 'cy-raw.json');
    const hooks = zeroSetupHooks(manifest);
    await exportCapsule({
      manifest,
      subject: { tenant_id: 'acme', user_id: 'cy' },
      databaseUrl: db.url,
      out,
      redaction: 'raw',
      extraRows: hooks.extraRows,
      extraSections: hooks.extraSections,
    });
    const target = await db.create('zs_raw');
    await materializeCapsule({
      manifest,
      capsulePath: out,
      url: target,
      prepareTarget: createSchemaHook({ capsulePath: out }),
    });
    const capsule = JSON.parse(readFileSync(out, 'utf8'));
    // Same rows in a scratch copy of the source restricted to the capsule's keys.
    const keys = (t: string, k: string) =>
      capsule.tables[t].map((r: Record<string, unknown>) => String(r[k]));
    await withClient(db.url, async (c) => {
      await c.query('drop schema if exists expected cascade; create schema expected');
      await c.query('create table expected.users as select * from users where user_id = any($1)', [
        keys('users', 'user_id'),
      ]);
      await c.query('create table expected.messages as select * from messages where id::text = any($1)', [
        keys('messages', 'id'),
      ]);
      await c.query('create table expected.reactions as select * from reactions where id::text = any($1)', [
        keys('reactions', 'id'),
      ]);
      await c.query('create table expected.workspaces as select * from workspaces where id = any($1)', [
        keys('workspaces', 'id'),
      ]);
    });
    const expected = await tableChecksums(db.url, [
      'expected.users',
      'expected.messages',
      'expected.reactions',
      'expected.workspaces',
    ]);
    const got = await tableChecksums(target, ['users', 'messages', 'reactions', 'workspaces']);
    expect(Object.values(got)).toEqual(Object.values(expected));
    const [src, copy] = await Promise.all([catalogSnapshot(db.url), catalogSnapshot(target)]);
    expect(copy.constraints).toEqual(src.constraints);
    expect(copy.sequences).toEqual(src.sequences);
  });
});
