import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { doctorReportSchema } from '../../src/postgres/doctor/report.js';
import { cli, REPO_ROOT } from '../helpers/cli.js';
import { useTestDatabase } from '../helpers/db.js';
import { loadPagila } from '../helpers/pagila.js';
import { COMPAT_DIR, hasCompat, hasPagila } from '../helpers/shared.js';

const PAGILA_MANIFEST = join(REPO_ROOT, 'config/apps/pagila.json');
const tmp = mkdtempSync(join(tmpdir(), 'doctor-'));

function writeManifest(name: string, value: unknown): string {
  const path = join(tmp, name);
  writeFileSync(path, typeof value === 'string' ? value : JSON.stringify(value, null, 2));
  return path;
}

const minimal = {
  appId: 'shop',
  adapter: 'postgres-subject-graph.v1',
  subjectKeys: ['account_id'],
  postgres: {
    replayDatabaseUrlEnv: 'SHOP_REPLAY_URL',
    tableOrder: ['accounts', 'orders'],
    tables: [
      {
        name: 'accounts',
        alias: 'a',
        from: 'accounts a join graph_keys g on g.account_id = a.account_id',
        deletePredicate: 't.account_id = g.account_id',
      },
      {
        name: 'orders',
        alias: 'o',
        from: 'orders o join graph_keys g on g.account_id = o.account_id',
        where: "o.created_at >= (select since_at from params) and o.note <> 'x.y'",
        orderBy: 'o.created_at',
        deletePredicate: 't.account_id = g.account_id',
      },
    ],
  },
  probes: [{ kind: 'sql', query: 'select 1' }],
  redactionRules: [{ fields: ['email'], action: 'hash' }],
};

describe('doctor without a database', () => {
  it('passes a complete manifest and says the live checks were skipped', async () => {
    const app = writeManifest('ok.json', minimal);
    const r = await cli(['doctor', '--app', app], { env: { SHOP_REPLAY_URL: '' } });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^PASS {2}manifest .*ok\.json is valid/m);
    expect(r.stdout).toMatch(/^PASS {2}subject keys: account_id$/m);
    expect(r.stdout).toMatch(/^PASS {2}2 tables declared/m);
    expect(r.stdout).toContain('live checks skipped: no --db-url and SHOP_REPLAY_URL is not set');
    expect(r.stdout).toMatch(/doctor: ok — \d+ passed, 0 warnings, 0 failed\n$/);
  });

  it('warns about missing redaction, an empty run loop and each unknown key with its path; --strict fails', async () => {
    const app = writeManifest('warn.json', {
      ...minimal,
      probes: [],
      redactionRules: [],
      colour: 'blue',
      postgres: {
        ...minimal.postgres,
        tables: [{ ...minimal.postgres.tables[0], deletePredicat: 'x' }, minimal.postgres.tables[1]],
      },
    });
    const r = await cli(['doctor', '--app', app]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^WARN {2}no redaction rules/m);
    expect(r.stdout).toMatch(/^WARN {2}no commands and no probes/m);
    expect(r.stdout).toMatch(/^WARN {2}unknown key colour /m);
    expect(r.stdout).toMatch(/^WARN {2}unknown key postgres\.tables\[0\]\.deletePredicat /m);
    const strict = await cli(['doctor', '--app', app, '--strict']);
    expect(strict.code).toBe(1);
    expect(strict.stdout).toMatch(/^FAIL {2}\(strict\) no redaction rules/m);
    expect(strict.stdout).toContain('doctor: FAILED');
  });

  it('exits 2 and reports all three seeded mistakes with their paths', async () => {
    const bad = {
      ...minimal,
      adapter: 'mysql-thing',
      postgres: {
        ...minimal.postgres,
        tables: [minimal.postgres.tables[0], { ...minimal.postgres.tables[1], alias: 'a-b' }],
      },
      probes: [{ kind: 'smtp', url: 'x' }],
    };
    const app = writeManifest('bad.json', bad);
    const r = await cli(['doctor', '--app', app]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('invalid manifest (3 problems)');
    expect(r.stderr).toContain(`${app}: adapter: must be "postgres-subject-graph.v1", got "mysql-thing"`);
    expect(r.stderr).toContain(`${app}: postgres.tables[1].alias: must be a plain SQL identifier, got "a-b"`);
    expect(r.stderr).toMatch(
      /probes\[0\](\.kind)?: must be one of "http", "command", "sql", "browser", got "smtp"/,
    );
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('reports invalid JSON with line and column, and a missing file by name', async () => {
    const app = writeManifest('broken.json', '{\n  "appId": "x",\n  "adapter": oops\n}\n');
    const r = await cli(['doctor', '--app', app]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      new RegExp(`${app.replace(/[.]/g, '\\.')}: invalid JSON at line 3, column \\d+`),
    );
    const missing = join(tmp, 'nope.json');
    const m = await cli(['doctor', '--app', missing]);
    expect(m.code).toBe(2);
    expect(m.stderr).toContain(`${missing}: manifest not found`);
  });

  it('fails on a production-looking target without connecting', async () => {
    const app = writeManifest('ok2.json', minimal);
    const r = await cli(['doctor', '--app', app, '--db-url', 'postgres://u@db.prod.example.com/app']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /^FAIL {2}refusing production-looking target postgres:\/\/u@db\.prod\.example\.com\/app/m,
    );
    expect(r.stdout).not.toMatch(/connect/);
  });

  it('fails on a remote target unless --allow-remote', async () => {
    const app = writeManifest('ok3.json', minimal);
    const url = 'postgres://u@staging.example.internal:1/shop';
    const r = await cli(['doctor', '--app', app, '--db-url', url]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAIL {2}target .* is a remote host/m);
  });

  it('reports a refused connection as a failed check, not a crash, and uses the env var', async () => {
    const app = writeManifest('ok4.json', minimal);
    const r = await cli(['doctor', '--app', app, '--json'], {
      env: { SHOP_REPLAY_URL: 'postgres://u:secret@127.0.0.1:1/shop' },
    });
    expect(r.code).toBe(1);
    const report = doctorReportSchema.parse(JSON.parse(r.stdout));
    expect(report.database).toEqual({
      url: 'postgres://u:***@127.0.0.1:1/shop',
      source: 'SHOP_REPLAY_URL',
      target: 'local',
      checked: false,
    });
    const connect = report.checks.find((c) => c.id === 'connect');
    expect(connect?.status).toBe('fail');
    expect(connect?.message).toContain('connection refused');
    expect(r.stdout).not.toContain('secret');
  });
});

describe('doctor against a live database', () => {
  const db = useTestDatabase();

  async function shopDatabase(prefix: string, ordersDdl: string): Promise<string> {
    const url = await db.create(prefix);
    const { withClient } = await import('../helpers/db.js');
    await withClient(url, (c) =>
      c.query(`create table accounts (account_id text primary key, email text);
               create table users (user_id int primary key);
               ${ordersDdl}`),
    );
    return url;
  }

  it('passes when tables, columns and load order fit, on a database named product_catalog_*', async () => {
    const url = await shopDatabase(
      'product_catalog',
      `create table orders (id int primary key, account_id text references accounts, created_at timestamptz, note text,
                            user_id int references users);`,
    );
    expect(url).toMatch(/\/product_catalog_[0-9a-f]+$/);
    const app = writeManifest('live-ok.json', minimal);
    const r = await cli(['doctor', '--app', app, '--db-url', url]);
    expect(r.stdout).toMatch(/^PASS {2}target .* is local/m);
    expect(r.stdout).toMatch(/^PASS {2}connected to /m);
    expect(r.stdout).toMatch(/^PASS {2}all 2 declared tables exist/m);
    expect(r.stdout).toMatch(/^PASS {2}all \d+ column references in the manifest's SQL exist/m);
    expect(r.stdout).toMatch(/^PASS {2}load order loads parents first: accounts, orders/m);
    expect(r.stdout).toMatch(/^WARN {2}orders references undeclared table users \(orders_user_id_fkey\)/m);
    expect(r.code).toBe(0);
  });

  it('fails naming table.column when a referenced column is missing, and prints a working load order', async () => {
    const url = await shopDatabase(
      'shop',
      `create table orders (id int primary key, account_id text references accounts, note text);`,
    );
    const app = writeManifest('live-bad.json', {
      ...minimal,
      postgres: { ...minimal.postgres, tableOrder: ['orders', 'accounts'] },
    });
    const r = await cli(['doctor', '--app', app, '--db-url', url, '--json']);
    expect(r.code).toBe(1);
    const report = doctorReportSchema.parse(JSON.parse(r.stdout));
    const failed = report.checks.filter((c) => c.status === 'fail').map((c) => c.message);
    expect(failed).toContainEqual(expect.stringContaining('orders.created_at does not exist'));
    expect(failed.filter((m) => m.includes('orders.created_at')).map((m) => m.split(':')[0])).toEqual([
      'postgres.tables[1] (orders).where',
      'postgres.tables[1] (orders).orderBy',
    ]);
    expect(failed).toContainEqual(
      'postgres.tableOrder loads orders before accounts, which it references (orders_account_id_fkey)',
    );
    expect(failed).toContainEqual('an order that works: "tableOrder": ["accounts","orders"]');
    // The literal 'x.y' is not a column reference.
    expect(failed.join('\n')).not.toContain('x.y');
  });

  it('checks g.<column> against the subject keys and reports a missing table', async () => {
    const url = await db.create('shop');
    const { withClient } = await import('../helpers/db.js');
    await withClient(url, (c) => c.query('create table accounts (account_id text primary key)'));
    const app = writeManifest('live-g.json', {
      ...minimal,
      postgres: {
        ...minimal.postgres,
        tables: [
          { ...minimal.postgres.tables[0], deletePredicate: 't.account_id = g.acount_id' },
          minimal.postgres.tables[1],
        ],
      },
    });
    const r = await cli(['doctor', '--app', app, '--db-url', url]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAIL {2}table orders \(declared in postgres.tables\) does not exist/m);
    expect(r.stdout).toMatch(
      /^FAIL {2}postgres\.tables\[0\] \(accounts\)\.deletePredicate: g\.acount_id — column g\.acount_id does not exist \(graph rows have only the subject key columns \(account_id\)\)/m,
    );
  });

  it('fails a snippet the planner rejects, naming where it is, without running anything', async () => {
    const url = await shopDatabase(
      'shop',
      `create table orders (id int primary key, account_id text references accounts, created_at timestamptz, note text);
       insert into accounts values ('a1', 'a@example.com');`,
    );
    const app = writeManifest('live-compile.json', {
      ...minimal,
      postgres: {
        ...minimal.postgres,
        graphEdges: ["select o.account_id, 'x'::text as reason from orders o, params p where o.note > 5"],
        tables: [
          {
            ...minimal.postgres.tables[0],
            deletePredicate: 't.account_id = g.account_id and no_such_fn(t.email)',
          },
          minimal.postgres.tables[1],
        ],
      },
    });
    const r = await cli(['doctor', '--app', app, '--db-url', url]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /^FAIL {2}postgres\.graphEdges\[0\]: the graph edge does not compile: operator does not exist: text > integer/m,
    );
    expect(r.stdout).toMatch(
      /^FAIL {2}postgres\.tables\[0\] \(accounts\)\.deletePredicate: the delete statement does not compile: function no_such_fn\(text\) does not exist/m,
    );
    const { withClient } = await import('../helpers/db.js');
    const rows = await withClient(url, (c) => c.query('select count(*)::int as n from accounts'));
    expect(rows.rows[0].n).toBe(1);
  });

  describe.skipIf(!hasCompat)('compat manifests', () => {
    it('socialnotes.json passes against the schema it was written for', async () => {
      const url = await db.create('socialnotes');
      const { withClient } = await import('../helpers/db.js');
      await withClient(
        url,
        async (c) => void (await c.query(readFileSync(join(COMPAT_DIR, 'schema.sql'), 'utf8'))),
      );
      const app = join(tmp, 'socialnotes.json');
      copyFileSync(join(COMPAT_DIR, 'socialnotes.json'), app);
      const r = await cli(['doctor', '--app', app, '--db-url', url]);
      expect(r.stdout).not.toMatch(/^FAIL/m);
      expect(r.stdout).toMatch(/^PASS {2}all \d+ column references/m);
      expect(r.code).toBe(0);
    });
  });

  describe.skipIf(!hasPagila)('Pagila example (config/apps/pagila.json)', () => {
    it('passes against a database loaded from pagila-schema.sql and pagila-data.sql', async () => {
      const url = await db.create('pagila');
      await loadPagila(url);
      const r = await cli(['doctor', '--app', PAGILA_MANIFEST, '--db-url', url]);
      expect(r.stdout).not.toMatch(/^FAIL/m);
      expect(r.stdout).toMatch(/^PASS {2}all 3 declared tables exist: customer, rental, payment/m);
      expect(r.stdout).toMatch(/^PASS {2}load order loads parents first: customer, rental, payment/m);
      expect(r.stdout).toMatch(/^PASS {2}all 9 export and delete statements compile/m);
      // payment's FKs are declared on its partitions; doctor still sees payment -> staff.
      expect(r.stdout).toMatch(/^WARN {2}payment references undeclared table staff/m);
      expect(r.code).toBe(0);
    }, 120_000);
  });
});
