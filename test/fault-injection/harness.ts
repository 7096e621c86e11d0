/**
 * Shared pieces of the fault-injection tests: a small app ("faultapp": accounts → events, audit),
 * its manifest, source data and capsule, the CLI as a killable child process, and waits on
 * observable states (a backend blocked in COPY, a temp file on disk), never on sleeps.
 *
 * How a command is held mid-flight deterministically:
 * - materialize: the test inserts (uncommitted) an `events` row whose primary key a capsule row
 *   in the middle of the table also has; the load's COPY inserts the rows before it and then
 *   waits for the test's transaction: a COPY in progress, with rows loaded, until the test acts.
 * - export: the test holds an ACCESS EXCLUSIVE lock on `audit` (the last table); the export
 *   writes `accounts` and `events` to its temp file and then waits for the lock.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { expect } from 'vitest';
import { ADAPTER } from '../../src/manifest/schema.js';
import { capsuleIntegrity, type TestCapsule, writeTestCapsule } from '../helpers/capsule-file.js';
import { type Exited, watchChild } from '../helpers/child.js';
import { REPO_ROOT } from '../helpers/cli.js';

export const CLI_ENTRY = fileURLToPath(new URL('../helpers/cli-entry.ts', import.meta.url));

export const SCHEMA_SQL = `
create table accounts (id bigint primary key, tenant_id text not null, name text not null);
create table events (
  id bigint primary key,
  tenant_id text not null,
  account_id bigint not null references accounts (id),
  kind text not null,
  payload jsonb not null
);
create table audit (id bigint primary key, tenant_id text not null, note text not null);
create table audit_gate (id int);
`;

/** Rows a target already holds: the subject's old rows (replaced by a load) and another tenant's. */
export const EXISTING_SQL = `
insert into accounts values (1, 'acme', 'old acme account'), (900, 'other', 'other account');
insert into events values (1, 'acme', 1, 'old', '{"v": 1}'), (900, 'other', 900, 'kept', '{"v": 2}');
insert into audit values (1, 'acme', 'old audit'), (900, 'other', 'other audit');
`;

const table = (name: string, alias: string) => ({
  name,
  alias,
  from: `${name} ${alias} join graph_keys g on g.tenant_id = ${alias}.tenant_id`,
  orderBy: `${alias}.id`,
  deletePredicate: 't.tenant_id = g.tenant_id',
});

export const MANIFEST = {
  appId: 'faultapp',
  adapter: ADAPTER,
  subjectKeys: ['tenant_id'],
  postgres: {
    prodDatabaseUrlEnv: 'FAULTAPP_PROD_DATABASE_URL',
    replayDatabaseUrlEnv: 'FAULTAPP_REPLAY_DATABASE_URL',
    tableOrder: ['accounts', 'events', 'audit'],
    tables: [
      table('accounts', 'a'),
      table('events', 'e'),
      // audit_gate is read only by audit's row query (its where), not by the export's up-front
      // type lookup (from only): locking it stops the export exactly at audit's COPY, after the
      // accounts and events rows are written (export-interrupt.test.ts).
      { ...table('audit', 'x'), where: 'x.id > 0 or exists (select 1 from audit_gate)' },
    ],
  },
};

/** A temp directory readable by everyone (a test may run the CLI as another user). */
export function workDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function writeManifest(dir: string): string {
  const path = join(dir, 'faultapp.json');
  writeFileSync(path, JSON.stringify(MANIFEST, null, 2));
  chmodSync(path, 0o644);
  return path;
}

const payload = (i: number) => ({
  seq: i,
  note: `event number ${i} of the fault-injection capsule`,
  n: i * 7,
});

/** The capsule a load test materializes: `events` rows 10000… (the blocker takes one of them). */
export function bigCapsule(events: number): TestCapsule {
  return {
    app: 'faultapp',
    subject: { tenant_id: 'acme' },
    graph: [{ tenant_id: 'acme' }],
    tables: {
      accounts: [10, 11, 12].map((id) => ({ id, tenant_id: 'acme', name: `account ${id}` })),
      events: Array.from({ length: events }, (_, i) => ({
        id: 10000 + i,
        tenant_id: 'acme',
        account_id: 10 + (i % 3),
        kind: 'click',
        payload: payload(i),
      })),
      audit: Array.from({ length: 10 }, (_, i) => ({ id: 100 + i, tenant_id: 'acme', note: `audit ${i}` })),
    },
  };
}

export function writeCapsule(path: string, c: TestCapsule): string {
  writeTestCapsule(path, c, { integrity: capsuleIntegrity(c) });
  return path;
}

/** Source data for the export tests: enough `events` that the writer flushes before `audit`. */
export function sourceSql(events: number): string {
  return `${SCHEMA_SQL}
insert into accounts values (10, 'acme', 'a10'), (11, 'acme', 'a11'), (900, 'other', 'other');
insert into events
  select 10000 + i, 'acme', 10 + (i % 2), 'click',
         jsonb_build_object('seq', i, 'note', 'event number ' || i || ' of the fault-injection source')
    from generate_series(0, ${events - 1}) i;
insert into events values (900, 'other', 900, 'kept', '{}');
insert into audit select 100 + i, 'acme', 'audit ' || i from generate_series(0, 9) i;
`;
}

export async function withPg<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  c.on('error', () => {});
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => {});
  }
}

/**
 * Polls `probe` until it returns a value (not undefined/null/false). The deadline only turns a
 * hang into a failure that names the state that never came; it is not a timing assertion.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | null | undefined | false> | T | null | undefined | false,
  deadlineMs = 30_000,
): Promise<T> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const v = await probe();
    if (v !== null && v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A backend of `application` in database `db` that waits for a lock in a statement like `queryLike`. */
export async function blockedBackend(
  url: string,
  db: string,
  application: string,
  queryLike: string,
): Promise<{ pid: number; tuples: number | null } | null> {
  return withPg(url, async (c) => {
    const r = await c.query<{ pid: number; tuples: string | null }>(
      `select a.pid, p.tuples_processed::text as tuples
         from pg_stat_activity a left join pg_stat_progress_copy p on p.pid = a.pid
        where a.datname = $1 and a.application_name = $2 and a.query ilike $3 and a.wait_event_type = 'Lock'`,
      [db, application, queryLike],
    );
    const row = r.rows[0];
    return row ? { pid: row.pid, tuples: row.tuples === null ? null : Number(row.tuples) } : null;
  });
}

/** Whether any backend of `application` is still connected to `db`. */
export async function backendGone(url: string, db: string, application: string): Promise<boolean> {
  return withPg(url, async (c) => {
    const r = await c.query('select 1 from pg_stat_activity where datname = $1 and application_name = $2', [
      db,
      application,
    ]);
    return r.rowCount === 0;
  });
}

/**
 * Holds a transaction open on `url` that blocks the load at `events` row `id` (see the header).
 * `release()` rolls it back; a terminated session is fine.
 */
export async function holdEventsRow(url: string, id: number): Promise<{ release: () => Promise<void> }> {
  const c = new pg.Client({ connectionString: url });
  c.on('error', () => {});
  await c.connect();
  await c.query('begin');
  await c.query(`insert into events values ($1, 'other', 900, 'blocker', '{}')`, [id]);
  return {
    release: async () => {
      await c.query('rollback').catch(() => {});
      await c.end().catch(() => {});
    },
  };
}

/** Holds an ACCESS EXCLUSIVE lock on `table` until released. */
export async function lockTable(url: string, tableName: string): Promise<{ release: () => Promise<void> }> {
  const c = new pg.Client({ connectionString: url });
  c.on('error', () => {});
  await c.connect();
  await c.query('begin');
  await c.query(`lock table ${tableName} in access exclusive mode`);
  return {
    release: async () => {
      await c.query('rollback').catch(() => {});
      await c.end().catch(() => {});
    },
  };
}

export interface CliChild {
  child: ChildProcess;
  pid: number;
  stderr: () => string;
  exited: Promise<Exited>;
}

const running = new Set<ChildProcess>();

/** SIGKILLs every CLI child still running (a failed test must not leave one loading behind). */
export function killRunning(): void {
  for (const c of running) c.kill('SIGKILL');
}

/**
 * The CLI as a child process (node --import tsx, from the sources). `fileSizeKb` runs it under
 * `ulimit -f` (bash); `uid`/`gid` run it as another user.
 */
export function startCli(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; fileSizeKb?: number; uid?: number; gid?: number } = {},
): CliChild {
  const node = [process.execPath, '--import', 'tsx', CLI_ENTRY, ...args];
  const [cmd, ...argv] =
    opts.fileSizeKb !== undefined
      ? ['bash', '-c', `ulimit -f ${opts.fileSizeKb} && exec "$@"`, 'bash', ...node]
      : node;
  const child = spawn(cmd!, argv, {
    cwd: REPO_ROOT,
    env: { ...process.env, CI: 'true', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.gid } : {}),
  });
  running.add(child);
  const watched = watchChild(child);
  const exited = watched.exited.finally(() => running.delete(child));
  return { child, pid: child.pid!, stderr: watched.stderr, exited };
}

/**
 * Why a connection was lost, as materialize reports it: the server's message (57P01 when it was
 * terminated or shut down) or, when a reset socket swallowed that message, the socket's error.
 */
export const LOST_REASON =
  /\((terminating connection due to administrator command \[SQLSTATE 57P01\]|the server closed the connection \(.*(ECONNRESET|EPIPE)\)|Connection terminated unexpectedly)\)/;

/** A clear error: one `replay-env: …` paragraph, no stack trace. */
export function expectCleanError(stderr: string): void {
  expect(stderr).toMatch(/replay-env: /);
  expect(stderr).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  expect(stderr).not.toMatch(/unexpected error/);
}

/** Files in the output's directory that belong to it: the output itself and its temp files. */
export function outputLeftovers(out: string): string[] {
  const dir = dirname(out);
  if (!existsSync(dir)) return [];
  const name = basename(out);
  return readdirSync(dir).filter((f) => f === name || (f.startsWith(`.${name}.`) && f.endsWith('.tmp')));
}

/** The temp file of `out` once it exists and holds at least `minBytes`. */
export function tempFileOf(out: string, minBytes = 1): string | null {
  const dir = dirname(out);
  const name = basename(out);
  for (const f of readdirSync(dir)) {
    if (!f.startsWith(`.${name}.`) || !f.endsWith('.tmp')) continue;
    const p = join(dir, f);
    try {
      if (statSync(p).size >= minBytes) return p;
    } catch {
      // removed meanwhile
    }
  }
  return null;
}
