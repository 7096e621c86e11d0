/**
 * The database-state snapshots (postgres/db-state/snapshot.ts via run/db-state-step.ts) on a real
 * Postgres: per table, the subject's graph and the rows outside it, before and after "probes" that
 * insert, update and delete on both sides; ignored columns and tables; nothing but counts and
 * digests recorded.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { judgeTrace } from '../src/gate/judge-trace.js';
import { loadLoop } from '../src/gate/loop.js';
import { loadPolicy } from '../src/gate/policy.js';
import { learnNoise } from '../src/judge/bless.js';
import { buildGolden } from '../src/judge/golden.js';
import { renderJudgementMarkdown } from '../src/judge/markdown.js';
import type { Manifest } from '../src/manifest/schema.js';
import { snapshotAfterMaterialize, snapshotAfterProbes } from '../src/run/db-state-step.js';
import { databaseStateSchema, type Trace } from '../src/trace/schema.js';
import { useTestDatabase } from './helpers/db.js';
import { TENANT_HEADER, TENANT_SCHEMA, tenantManifest } from './helpers/tenants.js';
import { traceWith } from './helpers/trace-fixture.js';

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

const loop = loadLoop();
const policy = loadPolicy();

/** A trace whose databaseState is a real run's: snapshot, `probes` (SQL), snapshot. */
async function runWith(probes: string, manifest = tenantManifest()): Promise<Trace> {
  await db.query(TENANT_SCHEMA);
  const rec = await start(manifest);
  await db.query(probes);
  const state = await snapshotAfterProbes(rec);
  return traceWith((t) => {
    t.databaseState = state;
  });
}

const judge = (trace: Trace, golden?: Trace, second?: Trace) =>
  judgeTrace({
    trace,
    golden: golden
      ? buildGolden({ trace: golden, noise: second ? learnNoise(golden, second).noise : [] }).golden
      : null,
    goldenPath: 'g.golden.json',
    policy,
    judges: loop.judges,
  });

const dbJudge = (j: ReturnType<typeof judge>) => j.judges.find((x) => x.id === 'database-state')!;

describe('the database-state judge on real snapshots', () => {
  it('blocks a write to another tenant’s rows, naming the table and the count, never a value', async () => {
    const t = await runWith(`
      insert into notes (tenant, account, body) values ('acme', 1, 'mine');
      update accounts set name = 'Eve leaked-name' where tenant = 'globex';
      delete from notes where tenant = 'globex';`);
    const j = judge(t);
    expect(j.decision).toBe('block');
    expect(j.facts).toMatchObject({ write_outside_subject: true, rows_written_outside_subject: 3 });
    expect(j.reasons.join('\n')).toMatch(
      /write_outside_subject — the run wrote to rows outside the subject's graph/,
    );
    const d = dbJudge(j);
    expect(d.verdict).toBe('fail');
    expect(d.summary).toBe("the run wrote 3 row(s) outside the subject's graph (accounts, notes)");
    expect(d.evidence).toContain(
      "write outside the subject's graph: accounts: 2 row(s) (2 → 2 rows, 2 written)",
    );
    expect(d.evidence).toContain(
      "write outside the subject's graph: notes: 1 row(s) (1 → 0 rows, 0 written)",
    );
    expect(d.evidence).toContain("notes (subject's graph): 2 → 3 rows, 1 written");
    expect(j.database!.tables.map((c) => [c.table, c.outsideWrite])).toEqual([
      ['accounts', 2],
      ['notes', 1],
    ]);
    const shown = JSON.stringify(j) + renderJudgementMarkdown(j);
    for (const v of [
      'leaked-name',
      'mine',
      'globex',
      'acme',
      t.databaseState!.tables[0]!.afterProbes!.outside.digest,
    ])
      expect(shown).not.toContain(v);
  });

  it('writes inside the graph only: continue; ignored tables and columns are not writes', async () => {
    const manifest = tenantManifest({
      databaseState: { ignoreTables: ['audit_log'], ignoreColumns: ['accounts.updated_at'] },
    });
    const t = await runWith(
      `insert into notes (tenant, account, body) values ('acme', 2, 'x');
       update accounts set updated_at = now() + interval '1 hour' where tenant = 'globex';
       insert into audit_log (tenant, what) values ('globex', 'seen');`,
      manifest,
    );
    const j = judge(t);
    expect(dbJudge(j)).toMatchObject({ verdict: 'pass' });
    expect(dbJudge(j).evidence).toEqual([
      "notes (subject's graph): 2 → 3 rows, 1 written",
      'ignored tables: audit_log',
      'ignored columns: accounts.updated_at',
    ]);
    expect(j.facts.write_outside_subject).toBe(false);
    expect(j.decision).not.toBe('block');
    // Without the rules the same run writes outside the graph.
    const raw = await runWith(
      `update accounts set updated_at = now() + interval '1 hour' where tenant = 'globex';
       insert into audit_log (tenant, what) values ('globex', 'seen');`,
    );
    expect(judge(raw).facts).toMatchObject({ write_outside_subject: true, rows_written_outside_subject: 3 });
  });

  it('compares with the golden run’s changes; two runs learn the noise', async () => {
    const insert = `insert into notes (tenant, account, body) values ('acme', 1, 'new')`;
    const golden = await runWith(insert);
    // Same changes: the inserted row's updated_at is now() in each run, so the content differs.
    const same = judge(await runWith(insert), golden);
    expect(dbJudge(same).verdict).toBe('warn');
    expect(dbJudge(same).evidence).toContain(
      'content differs from the golden: notes: the same counts, other values',
    );
    expect(same.facts.database_content_differs).toBe(true);
    // Blessed from two runs, the timestamp is learned noise.
    const second = await runWith(insert);
    expect(learnNoise(golden, second).noise).toEqual(['$.database.notes.inGraph.end']);
    expect(dbJudge(judge(await runWith(insert), golden, second)).verdict).toBe('pass');
    // Other changes than the golden's: block, with both sides' counts.
    const other = judge(
      await runWith(`delete from notes where tenant = 'acme' and account = 2`),
      golden,
      second,
    );
    expect(other.decision).toBe('block');
    expect(other.facts.database_changes_differ).toBe(true);
    expect(dbJudge(other).evidence).toContain(
      "differs from the golden: notes: subject's graph 2 → 3 rows, 1 written; outside the graph 1 → 1 rows, 0 written in the golden run",
    );
  });
});
