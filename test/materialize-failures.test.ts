/**
 * All-or-nothing: every failure leaves the target exactly as it was (per-table checksums before
 * and after), and the error names table, chunk, row index and the server's message without the
 * row's values. Also the contract errors (exit 2) and the integrity checks.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { INTEGRITY_ALGORITHM_V1 } from '../src/capsule/integrity.js';
import { ReplayError } from '../src/errors.js';
import { validateManifest } from '../src/manifest/load.js';
import {
  type MaterializeOptions,
  materializeCapsule,
} from '../src/postgres/materialize/materialize-capsule.js';
import { capsuleIntegrity, type TestCapsule, writeTestCapsule } from './helpers/capsule-file.js';
import { cli, REPO_ROOT } from './helpers/cli.js';
import { useTestDatabase, withClient } from './helpers/db.js';

const SCHEMA = `
create table parents (id bigint primary key, tenant_id text not null, name text not null);
create table children (
  id bigint primary key,
  tenant_id text not null,
  parent_id bigint not null references parents (id),
  qty integer not null constraint qty_not_negative check (qty >= 0),
  note text
);
`;
// Existing rows: the subject's old data (deleted by the load) and another tenant's (kept).
const EXISTING = `
insert into parents values (1, 'acme', 'old acme parent'), (900, 'other', 'other parent');
insert into children values (1, 'acme', 1, 5, 'old acme child'), (900, 'other', 900, 1, 'other child');
`;

const MANIFEST = validateManifest(
  {
    appId: 'failapp',
    adapter: 'postgres-subject-graph.v1',
    subjectKeys: ['tenant_id'],
    postgres: {
      replayDatabaseUrlEnv: 'FAILAPP_REPLAY_URL',
      tableOrder: ['parents', 'children'],
      tables: [
        { name: 'parents', deletePredicate: 't.tenant_id = g.tenant_id' },
        { name: 'children', deletePredicate: 't.tenant_id = g.tenant_id' },
      ],
    },
  },
  'failapp.json',
).manifest;

function capsule(children = 10, patch?: (rows: Record<string, unknown>[]) => void): TestCapsule {
  const kids = Array.from({ length: children }, (_, i) => ({
    id: 10000 + i,
    tenant_id: 'acme',
    parent_id: 10 + (i % 3),
    qty: i,
    note: `secret-note-${i}`,
  }));
  patch?.(kids);
  return {
    app: 'failapp',
    subject: { tenant_id: 'acme' },
    graph: [{ tenant_id: 'acme' }],
    tables: {
      parents: [0, 1, 2].map((i) => ({ id: 10 + i, tenant_id: 'acme', name: `p${i}` })),
      children: kids,
    },
  };
}

async function checksums(url: string): Promise<Record<string, string>> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const out: Record<string, string> = {};
    for (const t of ['parents', 'children']) {
      const { rows } = await c.query(
        `select count(*) || ':' || coalesce(md5(string_agg(t::text, '|' order by t::text)), '-') as m from ${t} t`,
      );
      out[t] = rows[0].m;
    }
    return out;
  } finally {
    await c.end();
  }
}

async function sql(url: string, text: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(text);
  } finally {
    await c.end();
  }
}

describe('materialize failures leave the target unchanged', () => {
  const db = useTestDatabase('mat_fail');
  const dir = mkdtempSync(join(tmpdir(), 'mat-fail-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const manifestPath = join(dir, 'failapp.json');
  writeFileSync(manifestPath, JSON.stringify(MANIFEST));
  let n = 0;
  const target = async () => {
    const url = await db.create('mat_fail_t');
    await sql(url, SCHEMA + EXISTING);
    return url;
  };
  const file = (c: TestCapsule, options?: Parameters<typeof writeTestCapsule>[2]) => {
    const path = join(dir, `c${n++}.json`);
    writeTestCapsule(path, c, options);
    return path;
  };
  const run = (url: string, capsulePath: string, extra: Partial<MaterializeOptions> = {}) =>
    materializeCapsule({ manifest: MANIFEST, capsulePath, url, ...extra });
  const failure = async (p: Promise<unknown>): Promise<ReplayError> => {
    try {
      await p;
    } catch (err) {
      expect(err).toBeInstanceOf(ReplayError);
      return err as ReplayError;
    }
    throw new Error('expected the materialization to fail');
  };

  it('loads the good capsule (the baseline the failures are compared with)', async () => {
    const url = await target();
    const r = await run(url, file(capsule()), { strategy: 'copy', chunkSize: 2 });
    expect(r.counts).toEqual([
      { table: 'parents', capsule: 3, database: 3, hashMatch: null },
      { table: 'children', capsule: 10, database: 10, hashMatch: null },
    ]);
    const after = await checksums(url);
    expect(after.children!.startsWith('11:')).toBe(true); // 10 loaded + the other tenant's row
  });

  for (const strategy of ['copy', 'jsonb'] as const) {
    it(`${strategy}: a bad row in the third chunk of the second table names table, chunk and row, not the value`, async () => {
      const url = await target();
      const before = await checksums(url);
      const path = file(
        capsule(10, (rows) => {
          rows[5]!.qty = 'not-a-number-secret';
        }),
      );
      const err = await failure(run(url, path, { strategy, chunkSize: 2 }));
      expect(err.exitCode).toBe(1);
      expect(err.message).toContain('table children, chunk 3, row 5');
      expect(err.message).toContain('invalid input syntax for type integer');
      expect(err.message).not.toContain('not-a-number-secret');
      expect(err.message).toContain('target is unchanged');
      expect(await checksums(url)).toEqual(before);
    });

    it(`${strategy}: a constraint violation fails with the constraint's name and rolls back`, async () => {
      const url = await target();
      const before = await checksums(url);
      const path = file(
        capsule(10, (rows) => {
          rows[7]!.qty = -1;
        }),
      );
      const err = await failure(run(url, path, { strategy, chunkSize: 3 }));
      expect(err.message).toContain('qty_not_negative');
      expect(err.message).toMatch(/table children, chunk 3(, row 7)?/);
      expect(await checksums(url)).toEqual(before);
    });

    it(`${strategy}: a dropped connection mid-load surfaces the server's message, not "broken pipe"`, async () => {
      const url = await target();
      const before = await checksums(url);
      const app = `replay-env materialize drop-${strategy}`;
      const err = await failure(
        run(url, file(capsule(4000)), {
          strategy,
          chunkSize: 100,
          applicationName: app,
          onProgress: async (e) => {
            if (e.phase === 'load' && e.table === 'children' && e.chunk === 2) {
              await sql(
                db.url,
                `select pg_terminate_backend(pid) from pg_stat_activity where application_name = '${app}'`,
              );
              await new Promise((r) => setTimeout(r, 100));
            }
          },
        }),
      );
      expect(err.message).toMatch(
        /terminating connection due to administrator command|Connection terminated/,
      );
      expect(err.message).not.toMatch(/EPIPE|broken pipe/i);
      expect(await checksums(url)).toEqual(before);
    });
  }

  it('a killed process leaves Postgres to roll back: the target is unchanged', async () => {
    const url = await target();
    const before = await checksums(url);
    const path = file(capsule(30000));
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(REPO_ROOT, 'test/helpers/cli-entry.ts'),
        'materialize-postgres',
        '--app',
        manifestPath,
        '--capsule',
        path,
        '--db-url',
        url,
        '--load-strategy',
        'jsonb',
        '--chunk-size',
        '5',
      ],
      { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr!.on('data', (d) => {
      stderr += d;
    });
    const dbName = new URL(url).pathname.slice(1);
    const oidClient = new pg.Client({ connectionString: url });
    await oidClient.connect();
    const childrenOid = (await oidClient.query("select 'children'::regclass::oid as oid")).rows[0].oid;
    await oidClient.end();
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    try {
      // Wait until the load is inside the children table (holds a lock on it), then SIGKILL.
      const deadline = Date.now() + 60_000;
      for (;;) {
        const { rows } = await admin.query(
          `select count(*)::int as n from pg_stat_activity a join pg_locks l on l.pid = a.pid
            where a.datname = $1 and a.application_name = 'replay-env materialize'
              and l.relation = $2 and l.mode = 'RowExclusiveLock'`,
          [dbName, childrenOid],
        );
        if (rows[0].n > 0) break;
        if (Date.now() > deadline || child.exitCode !== null)
          throw new Error(`load never started: ${stderr}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      // lock on children is taken by the delete; wait a little for inserts to be under way
      await new Promise((r) => setTimeout(r, 300));
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      for (;;) {
        const { rows } = await admin.query(
          `select count(*)::int as n from pg_stat_activity where datname = $1 and application_name = 'replay-env materialize'`,
          [dbName],
        );
        if (rows[0].n === 0) break;
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      await admin.end();
    }
    expect(await checksums(url)).toEqual(before);
  });

  it('rows the deletePredicate does not select fail the integrity check (they would never be replaced)', async () => {
    const url = await target();
    const before = await checksums(url);
    const path = file(
      capsule(4, (rows) => {
        rows[2]!.tenant_id = 'elsewhere';
      }),
    );
    const err = await failure(run(url, path, { strategy: 'copy' }));
    expect(err.message).toContain(
      'children: capsule has 4 rows, the target has 3 rows matching its deletePredicate',
    );
    expect(await checksums(url)).toEqual(before);
  });

  it('a content hash that does not match the integrity record fails; a good one is verified', async () => {
    const url = await target();
    const good = capsule(6);
    const ok = await run(url, file(good, { integrity: capsuleIntegrity(good) }), { strategy: 'copy' });
    expect(ok.hashCheck).toBe('verified');
    expect(ok.counts.map((c) => c.hashMatch)).toEqual([true, true]);
    const before = await checksums(url);
    const integrity = capsuleIntegrity(good);
    const tampered = capsule(6, (rows) => {
      rows[3]!.note = 'changed after export';
    });
    const err = await failure(run(url, file(tampered, { integrity }), { strategy: 'jsonb' }));
    expect(err.message).toContain("children: the loaded rows' content hash differs");
    expect(await checksums(url)).toEqual(before);
    // After a subject rewrite the hashes legitimately differ: skipped, and said so.
    const rewritten = await run(await target(), file(good, { integrity: capsuleIntegrity(good) }), {
      rewrite: { tenant_id: 'local' },
    });
    expect(rewritten.hashCheck).toBe('skipped-after-rewrite');
    expect(rewritten.rewritten).toEqual({
      from: { tenant_id: 'acme' },
      to: { tenant_id: 'local' },
      values: 9,
    });
  });

  it('a version-1 integrity record (capsules exported before 0.4) still verifies; a changed row fails it', async () => {
    const good = capsule(6);
    const v1 = capsuleIntegrity(good, INTEGRITY_ALGORITHM_V1);
    expect(v1.algorithm).toBe(INTEGRITY_ALGORITHM_V1);
    for (const strategy of ['copy', 'jsonb'] as const) {
      const ok = await run(await target(), file(good, { integrity: v1 }), { strategy });
      expect(ok.hashCheck).toBe('verified');
      expect(ok.counts.map((c) => c.hashMatch)).toEqual([true, true]);
    }
    const tampered = capsule(6, (rows) => {
      rows[2]!.qty = 99;
    });
    const err = await failure(run(await target(), file(tampered, { integrity: v1 }), { strategy: 'copy' }));
    expect(err.message).toContain("children: the loaded rows' content hash differs");
  });

  it('contract errors are input errors (exit 2) raised before touching the database', async () => {
    const url = await target();
    const before = await checksums(url);
    const wrongApp = { ...capsule(), app: 'someone-else' };
    expect((await failure(run(url, file(wrongApp)))).message).toContain(
      'capsule app "someone-else" does not match the manifest\'s appId "failapp"',
    );
    const undeclared = capsule();
    undeclared.tables.audit_log = [];
    const e2 = await failure(run(url, file(undeclared)));
    expect(e2.exitCode).toBe(2);
    expect(e2.message).toContain('audit_log is not declared');
    const e3 = await failure(run(url, file(capsule()), { rewrite: { account_id: 'x' } }));
    expect(e3.exitCode).toBe(2);
    expect(await checksums(url)).toEqual(before);
  });

  it('large line-layout capsules (plain and gzip) stream across read chunks exactly (hash verified)', async () => {
    const big = capsule(20000, (rows) => {
      rows.forEach((r, i) => {
        r.note = `${'ünïcødé 👨‍👩‍👧 '.repeat(i % 7)}line ${i}\nwith\ttab \\ and "quotes"${i % 5 === 0 ? '\n\\.\n' : ''}`;
      });
    });
    const plainPath = file(big, { integrity: capsuleIntegrity(big) });
    const gzPath = `${plainPath}.gz`;
    writeFileSync(gzPath, gzipSync(readFileSync(plainPath)));
    for (const [path, strategy] of [
      [plainPath, 'copy'],
      [gzPath, 'jsonb'],
    ] as const) {
      const url = await target();
      const r = await run(url, path, { strategy });
      expect(r.reader).toBe('lines');
      expect(r.hashCheck).toBe('verified');
      expect(r.counts).toEqual([
        { table: 'parents', capsule: 3, database: 3, hashMatch: true },
        { table: 'children', capsule: 20000, database: 20000, hashMatch: true },
      ]);
    }
  });

  it('a pretty-printed capsule (generic reader) with subject after tables loads the same rows', async () => {
    const url = await target();
    const r = await run(url, file(capsule(), { layout: 'pretty' }), { strategy: 'copy', chunkSize: 4 });
    expect(r.reader).toBe('spooled');
    expect(r.counts.map((c) => c.database)).toEqual([3, 10]);
  });

  it('--explain plans the deletes and inserts and changes nothing; --disable-triggers works for a superuser', async () => {
    const url = await target();
    const before = await checksums(url);
    const r = await run(url, file(capsule()), { explain: true });
    expect(r.status).toBe('explained');
    expect(r.explain!.map((e) => e.statement)).toEqual([
      'delete from "children" t using replay_graph g where t.tenant_id = g.tenant_id',
      'delete from "parents" t using replay_graph g where t.tenant_id = g.tenant_id',
      expect.stringContaining('insert into "parents"'),
      'copy "parents" ("id", "tenant_id", "name") from stdin',
      expect.stringContaining('insert into "children"'),
      'copy "children" ("id", "tenant_id", "parent_id", "qty", "note") from stdin',
    ]);
    expect(r.explain![0]!.plan).toMatch(/Delete on children/);
    expect(await checksums(url)).toEqual(before);
    const loaded = await run(url, file(capsule()), { disableTriggers: true, strategy: 'copy' });
    expect(loaded.status).toBe('ok');
  });

  it('--disable-triggers as a non-superuser is refused with a clear message', async () => {
    const url = await target();
    const role = `nosuper_${Math.random().toString(36).slice(2, 8)}`;
    await sql(
      url,
      `create role ${role} login password 'pw'; grant all on all tables in schema public to ${role}`,
    );
    const u = new URL(url);
    u.username = role;
    u.password = 'pw';
    const err = await failure(run(u.toString(), file(capsule()), { disableTriggers: true }));
    expect(err.message).toContain('--disable-triggers needs a superuser');
    await sql(url, `drop owned by ${role}; drop role ${role}`);
  });

  for (const mode of ['deferrable', 'not deferrable', 'not deferrable, not the owner'] as const) {
    it(`a foreign-key cycle, ${mode}: ${mode === 'deferrable' ? 'loads (checked at commit)' : mode === 'not deferrable' ? 'loads, its keys deferred for the load and restored' : 'a clear error naming it'}`, async () => {
      const url = await db.create('mat_fail_cycle');
      const d = mode === 'deferrable' ? ' deferrable initially immediate' : '';
      await sql(
        url,
        `create table teams (id bigint primary key, tenant_id text not null, lead_id bigint);
         create table members (id bigint primary key, tenant_id text not null, team_id bigint not null references teams (id)${d});
         alter table teams add constraint teams_lead_fkey foreign key (lead_id) references members (id)${d};`,
      );
      const manifest = validateManifest(
        {
          appId: 'cycleapp',
          adapter: 'postgres-subject-graph.v1',
          subjectKeys: ['tenant_id'],
          postgres: {
            tables: [
              { name: 'teams', deletePredicate: 't.tenant_id = g.tenant_id' },
              { name: 'members', deletePredicate: 't.tenant_id = g.tenant_id' },
            ],
          },
        },
        'cycle.json',
      ).manifest;
      const path = file({
        app: 'cycleapp',
        subject: { tenant_id: 'acme' },
        graph: [{ tenant_id: 'acme' }],
        tables: {
          teams: [{ id: 1, tenant_id: 'acme', lead_id: 7 }],
          members: [{ id: 7, tenant_id: 'acme', team_id: 1 }],
        },
      });
      let target = url;
      const role = `cyc_${Math.random().toString(36).slice(2, 8)}`;
      if (mode === 'not deferrable, not the owner') {
        await sql(
          url,
          `create role ${role} login password 'pw'; grant all on all tables in schema public to ${role}`,
        );
        const u = new URL(url);
        u.username = role;
        u.password = 'pw';
        target = u.toString();
      }
      const constraints = () =>
        withClient(
          url,
          async (c) =>
            (await c.query("select conname, condeferrable from pg_constraint where contype = 'f' order by 1"))
              .rows,
        );
      const before = await constraints();
      const go = materializeCapsule({ manifest, capsulePath: path, url: target, strategy: 'copy' });
      if (mode === 'not deferrable, not the owner') {
        const err = await failure(go);
        expect(err.message).toContain('tables teams ↔ members reference each other in a cycle');
        expect(err.message).toMatch(/members_team_id_fkey|teams_lead_fkey/);
        await sql(url, `drop owned by ${role}; drop role ${role}`);
      } else {
        const r = await go;
        expect(r.counts.map((c) => c.database)).toEqual([1, 1]);
        expect(r.warnings.join('\n')).toContain('form a foreign-key cycle; loaded with deferred constraints');
        // Twice: the reload deletes and inserts both again.
        expect(
          (await materializeCapsule({ manifest, capsulePath: path, url, strategy: 'jsonb' })).status,
        ).toBe('ok');
      }
      expect(await constraints()).toEqual(before);
    });
  }

  it('a failed load leaves sequences exactly as they were (nextval of defaults and setval are not transactional)', async () => {
    const url = await db.create('mat_fail_seq');
    await sql(
      url,
      `create table items (id serial primary key, tenant_id text not null, qty int not null check (qty > 0));
       create table notes (id bigint generated by default as identity primary key, tenant_id text not null, body text);
       insert into items (tenant_id, qty) values ('other', 1), ('other', 2);`,
    );
    const manifest = validateManifest(
      {
        appId: 'seqapp',
        adapter: 'postgres-subject-graph.v1',
        subjectKeys: ['tenant_id'],
        postgres: {
          tables: [
            { name: 'items', deletePredicate: 't.tenant_id = g.tenant_id' },
            { name: 'notes', deletePredicate: 't.tenant_id = g.tenant_id' },
          ],
        },
      },
      'seq.json',
    ).manifest;
    const seqs = () =>
      withClient(
        url,
        async (c) => (await c.query('select sequencename, last_value from pg_sequences order by 1')).rows,
      );
    const before = await seqs();
    const base = { app: 'seqapp', subject: { tenant_id: 'acme' }, graph: [{ tenant_id: 'acme' }] };
    // Rows without ids take nextval from the defaults, then a row fails its check.
    const failing = file({
      ...base,
      tables: {
        items: [
          { tenant_id: 'acme', qty: 1 },
          { tenant_id: 'acme', qty: 2 },
          { tenant_id: 'acme', qty: 0 },
        ],
        notes: [],
      },
    });
    for (const strategy of ['jsonb', 'copy'] as const)
      await failure(materializeCapsule({ manifest, capsulePath: failing, url, strategy }));
    expect(await seqs()).toEqual(before);
    // Loaded rows with high ids move the sequences (setval) before verification fails: set back too.
    const late = file({
      ...base,
      tables: {
        items: [{ id: 500, tenant_id: 'acme', qty: 1 }],
        notes: [{ id: 900, tenant_id: 'acme', body: 'x' }],
      },
    });
    await withClient(url, (c) =>
      c.query("create rule hide as on insert to notes where new.body = 'x' do instead nothing"),
    );
    const err = await failure(materializeCapsule({ manifest, capsulePath: late, url, strategy: 'jsonb' }));
    expect(err.message).toMatch(/notes: capsule has 1 rows/);
    expect(await seqs()).toEqual(before);
  });

  it('CLI: the failure exits 1 with the message and no stack trace', async () => {
    const url = await target();
    const path = file(
      capsule(10, (rows) => {
        rows[5]!.qty = 'x';
      }),
    );
    const r = await cli(
      ['materialize-postgres', '--app', manifestPath, '--capsule', path, '--chunk-size', '2'],
      {
        env: { FAILAPP_REPLAY_URL: url },
      },
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^replay-env: materialize failed at table children, chunk 3, row 5/);
    expect(r.stderr).not.toContain('    at ');
  });
});
