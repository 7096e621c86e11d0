/**
 * A manifest snippet or an SQL probe that stacks statements (`…; commit; drop table …`) is
 * refused before anything is sent: every statement replay-env builds from a manifest parses as
 * exactly one statement, doctor's EXPLAIN and SQL probes use the extended protocol, and SQL probes
 * run in a READ ONLY transaction with a statement timeout that is rolled back.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ProbeContext } from '../../src/run/probes/context.js';
import { runSqlProbe } from '../../src/run/probes/sql.js';
import { cli, REPO_ROOT } from '../helpers/cli.js';
import { useTestDatabase, withClient } from '../helpers/db.js';
import { expectCleanFailure } from './harness.js';

const db = useTestDatabase('stacked');
const EXAMPLE = join(REPO_ROOT, 'examples/socialapp');
const dir = mkdtempSync(join(tmpdir(), 'stacked-'));

interface TableEntry {
  name: string;
  [k: string]: unknown;
}

/** The example manifest with one table's field replaced. */
function manifestWith(table: string, field: string, value: string, name: string): string {
  const m = JSON.parse(readFileSync(join(REPO_ROOT, 'config/apps/socialapp.json'), 'utf8'));
  m.$schema = undefined;
  m.repoPath = EXAMPLE;
  const t = (m.postgres.tables as TableEntry[]).find((x) => x.name === table)!;
  t[field] = value;
  const path = join(dir, `${name}.json`);
  writeFileSync(path, JSON.stringify(m, null, 2));
  return path;
}

async function reactions(): Promise<number | null> {
  return withClient(db.url, async (c) => {
    if ((await c.query("select to_regclass('reactions') as r")).rows[0].r === null) return null;
    return (await c.query<{ n: number }>('select count(*)::int as n from reactions')).rows[0]!.n;
  });
}

const DROP = 'true; commit; drop table reactions; --';

beforeAll(async () => {
  await db.runFile(join(EXAMPLE, 'schema.sql'));
  await db.runFile(join(EXAMPLE, 'seed.sql'));
}, 60_000);

describe('manifest snippets stay inside their one statement', () => {
  it('doctor reports a stacked deletePredicate and does not run it', async () => {
    const before = await reactions();
    const app = manifestWith('reactions', 'deletePredicate', DROP, 'doctor');
    const r = await cli(['doctor', '--app', app, '--db-url', db.url]);
    expect(r.code, r.stdout).not.toBe(0);
    expect(r.stdout).toMatch(
      /postgres\.tables\[2\] \(reactions\)\.deletePredicate: the statement built from it holds 3 statements/,
    );
    expect(await reactions()).toBe(before);
  });

  it('materialize refuses a stacked deletePredicate (exit 2) before connecting', async () => {
    const before = await reactions();
    const app = manifestWith('reactions', 'deletePredicate', DROP, 'materialize');
    const r = await cli([
      'materialize-postgres',
      '--app',
      app,
      '--capsule',
      join(dir, 'never-read.json'),
      '--db-url',
      db.url,
    ]);
    expectCleanFailure(r, {
      code: 2,
      file: app,
      problem: /deletePredicate: the statement built from it holds/,
    });
    expect(await reactions()).toBe(before);
  });

  it('export refuses a stacked where (exit 2): the read-only snapshot cannot be committed away', async () => {
    const before = await reactions();
    const app = manifestWith('reactions', 'where', 'true; commit; delete from reactions; --', 'export');
    const out = join(dir, 'x.json');
    const r = await cli([
      'export-postgres',
      '--app',
      app,
      '--subject',
      'tenant_id=acme',
      '--subject',
      'user_id=ada',
      '--out',
      out,
      '--db-url',
      db.url,
    ]);
    expectCleanFailure(r, {
      code: 2,
      file: app,
      problem: /postgres\.tables\[2\] \(reactions\)/,
      outputs: [out],
    });
    expect(await reactions()).toBe(before);
  });
});

describe('sql probes: one read-only query, timed out and rolled back', () => {
  const ctx = (): ProbeContext =>
    ({
      cwd: dir,
      env: {},
      databaseUrl: db.url,
      artifactsDir: dir,
      mask: (s: string) => s,
    }) as unknown as ProbeContext;

  it('refuses `select 1; commit; delete from reactions` and deletes nothing', async () => {
    const before = await reactions();
    const out = await runSqlProbe(
      { kind: 'sql', name: 'stacked', query: 'select 1; commit; delete from reactions' },
      ctx(),
    );
    expect(out.ok).toBe(false);
    expect(out.error).toMatch(/exactly one read-only query .*; this one holds 3 statements/);
    expect(await reactions()).toBe(before);
  });

  it('a SELECT that writes (nextval) fails in the READ ONLY transaction', async () => {
    const seq = async () =>
      withClient(
        db.url,
        async (c) => (await c.query('select last_value::text as v from reactions_id_seq')).rows[0].v,
      );
    const before = await seq();
    const out = await runSqlProbe(
      { kind: 'sql', name: 'writes', query: "select nextval('reactions_id_seq')" },
      ctx(),
    );
    expect(out.ok).toBe(false);
    expect(out.error).toMatch(/read-only transaction/);
    expect(await seq()).toBe(before);
  });

  it('a query longer than the probe timeout is cancelled by the statement timeout', async () => {
    const out = await runSqlProbe(
      { kind: 'sql', name: 'slow', query: 'select pg_sleep(5)', timeoutSeconds: 1 },
      ctx(),
    );
    expect(out.ok).toBe(false);
    expect(out.error).toMatch(/statement timeout/);
  });
});
