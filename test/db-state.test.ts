/**
 * The database-state snapshots (postgres/db-state/snapshot.ts via run/db-state-step.ts) on a real
 * Postgres: per table, the subject's graph and the rows outside it, before and after "probes" that
 * insert, update and delete on both sides; ignored columns and tables; nothing but counts and
 * digests recorded.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { Manifest } from '../src/manifest/schema.js';
import { snapshotAfterMaterialize, snapshotAfterProbes } from '../src/run/db-state-step.js';
import { databaseStateSchema } from '../src/trace/schema.js';
import { useTestDatabase } from './helpers/db.js';
import { TENANT_HEADER, TENANT_SCHEMA, tenantManifest } from './helpers/tenants.js';

const db = useTestDatabase('db_state');

function start(manifest: Manifest) {
  return snapshotAfterMaterialize({
    manifest,
    header: TENANT_HEADER,
    capsuleTables: ['accounts', 'notes', 'audit_log'],
    databaseUrl: db.url,
  });
}

describe('database-state snapshots', () => {
  beforeEach(async () => {
    await db.query(TENANT_SCHEMA);
  });

  it('splits counts and written rows into the graph and outside it, before and after', async () => {
    const rec = await start(tenantManifest());
    await db.query(`insert into notes (tenant, account, body) values ('acme', 1, 'new')`);
    await db.query(`update accounts set name = 'Eve 2' where tenant = 'globex' and id = 1`);
    await db.query(`delete from notes where tenant = 'globex'`);
    const state = databaseStateSchema.parse(await snapshotAfterProbes(rec));
    const by = Object.fromEntries(state.tables.map((t) => [t.table, t]));
    expect(by.notes!.afterMaterialize.inGraph.rows).toBe(2);
    expect(by.notes!.afterMaterialize.outside.rows).toBe(1);
    expect(by.notes!.afterProbes).toMatchObject({
      inGraph: { rows: 3, written: 1 },
      outside: { rows: 0, written: 0 },
    });
    expect(by.accounts!.afterProbes!.outside).toMatchObject({ rows: 2, written: 1 });
    expect(by.accounts!.afterProbes!.outside.digest).not.toBe(by.accounts!.afterMaterialize.outside.digest);
    expect(by.accounts!.afterProbes!.inGraph.digest).toBe(by.accounts!.afterMaterialize.inGraph.digest);
    expect(by.audit_log!.afterProbes).toMatchObject({ inGraph: { rows: 0, written: 0 } });
    // Counts and digests only: no value of any row is in the record.
    const text = JSON.stringify(state);
    for (const v of ['secret-name', 'private', 'Eve', 'globex']) expect(text).not.toContain(v);
  });

  it('digests do not depend on row order and leave ignored columns and tables out', async () => {
    const manifest = tenantManifest({
      databaseState: { ignoreTables: ['audit_log'], ignoreColumns: ['updated_at', 'notes.body'] },
    });
    const rec = await start(manifest);
    // Same rows in another physical order; ignored columns changed; the ignored table written.
    await db.query(`update accounts set updated_at = now() + interval '1 day'`);
    await db.query(`update notes set body = body || '!' where tenant = 'globex'`);
    await db.query(`insert into audit_log (tenant, what) values ('globex', 'x')`);
    const state = await snapshotAfterProbes(rec);
    expect(state.ignoredTables).toEqual(['audit_log']);
    expect(state.tables.map((t) => t.table)).toEqual(['accounts', 'notes']);
    for (const t of state.tables) {
      expect(t.afterProbes!.inGraph.digest).toBe(t.afterMaterialize.inGraph.digest);
      expect(t.afterProbes!.outside.digest).toBe(t.afterMaterialize.outside.digest);
    }
    // The rows were written (xmin moved) although nothing judged changed.
    expect(state.tables[0]!.afterProbes!.outside.written).toBe(2);
  });

  it('records a snapshot error instead of failing the run', async () => {
    const manifest = tenantManifest();
    manifest.postgres.tables[0]!.deletePredicate = 't.no_such_column = g.tenant';
    const rec = await start(manifest);
    const state = await snapshotAfterProbes(rec);
    expect(state.tables).toEqual([]);
    expect(state.error).toMatch(/^after materialize: /);
  });
});

describe('manifest databaseState', () => {
  it('refuses bad noise rules with the file, the field and what was expected', () => {
    let message = '';
    try {
      tenantManifest({ databaseState: { ignoreTables: ['audit_logs'], ignoreColumns: ['a.b.c', 7] } });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('tenants.json');
    expect(message).toMatch(
      /databaseState\.ignoreTables\[0\]: names "audit_logs", which is not a declared table \(declared: accounts, notes, audit_log\)/,
    );
    expect(message).toMatch(
      /databaseState\.ignoreColumns\[0\]: must be a column name or table\.column, got "a\.b\.c"/,
    );
    expect(message).toMatch(
      /databaseState\.ignoreColumns\[1\]: must be a column name or table\.column, got 7/,
    );
    expect(() => tenantManifest({ databaseState: { ignoreColumns: ['users.updated_at'] } })).toThrow(
      /ignoreColumns\[0\]: names table "users", which is not a declared table/,
    );
  });

  it('loads a manifest without the field (v0.3) unchanged', () => {
    expect(tenantManifest().databaseState).toBeUndefined();
  });
});
