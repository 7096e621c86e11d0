/**
 * Materialize interrupted mid-COPY leaves the target exactly as it was (whole-database checksum
 * before == after): the connection killed by pg_terminate_backend, the process killed (SIGKILL:
 * the server rolls back), the process interrupted (SIGTERM / SIGINT: the CLI cancels the COPY,
 * rolls back, says so and exits 143 / 130). The load is held mid-COPY by an uncommitted row (see
 * harness.ts), so every test acts while rows are loaded and uncommitted.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';
import { useTestDatabase } from '../helpers/db.js';
import { databaseChecksum } from '../helpers/db-checksum.js';
import {
  backendGone,
  bigCapsule,
  blockedBackend,
  EXISTING_SQL,
  expectCleanError,
  holdEventsRow,
  killRunning,
  LOST_REASON,
  SCHEMA_SQL,
  startCli,
  waitFor,
  withPg,
  workDir,
  writeCapsule,
  writeManifest,
} from './harness.js';

const APP = 'replay-env materialize';
const EVENTS = 20_000;
/** The capsule row the load blocks on: rows before it are in the COPY's transaction. */
const BLOCK_AT = 10000 + 12_000;

const db = useTestDatabase('fault_mat');
const work = workDir('fault-mat-');
let manifest = '';
let capsule = '';

beforeAll(() => {
  manifest = writeManifest(work.dir);
  capsule = writeCapsule(join(work.dir, 'big.json'), bigCapsule(EVENTS));
});
afterAll(() => work.cleanup());

/** A fresh target holding rows, its name and its checksum. */
async function target(): Promise<{ url: string; name: string; before: string }> {
  const url = await db.create('fault_mat_t');
  await withPg(url, (c) => c.query(SCHEMA_SQL + EXISTING_SQL));
  return { url, name: new URL(url).pathname.slice(1), before: (await databaseChecksum(url)).digest };
}

const materializeArgs = (url: string) => [
  'materialize-postgres',
  '--app',
  manifest,
  '--capsule',
  capsule,
  '--db-url',
  url,
  '--load-strategy',
  'copy',
];

/** Waits until the load's COPY into events is blocked with rows already processed. */
async function copyInProgress(url: string, name: string) {
  const b = await waitFor('the COPY into events to be in progress', () =>
    blockedBackend(url, name, APP, 'copy%events%'),
  );
  expect(b.tuples ?? 0, 'rows already processed by the COPY').toBeGreaterThan(0);
  return b;
}

describe('materialize: the connection killed mid-COPY', () => {
  it('pg_terminate_backend on the load: clear error, exit 1, target unchanged', async () => {
    const t = await target();
    const hold = await holdEventsRow(t.url, BLOCK_AT);
    try {
      const running = cli(materializeArgs(t.url));
      const b = await copyInProgress(t.url, t.name);
      await withPg(t.url, (c) => c.query('select pg_terminate_backend($1)', [b.pid]));
      const r = await running;
      expect(r.code).toBe(1);
      expectCleanError(r.stderr);
      expect(r.stderr).toMatch(/the connection to the replay target was lost while loading events/);
      expect(r.stderr).toMatch(LOST_REASON);
      expect(r.stderr).toMatch(/nothing was loaded and the target is unchanged/);
    } finally {
      killRunning();
      await hold.release();
    }
    expect((await databaseChecksum(t.url)).digest).toBe(t.before);
  });
});

describe('materialize: the process killed mid-COPY', () => {
  it('SIGKILL: the server rolls the transaction back; target unchanged', async () => {
    const t = await target();
    const hold = await holdEventsRow(t.url, BLOCK_AT);
    let released = false;
    try {
      const child = startCli(materializeArgs(t.url));
      await copyInProgress(t.url, t.name);
      child.child.kill('SIGKILL');
      const r = await child.exited;
      expect(r.signal).toBe('SIGKILL');
      // The orphaned backend notices its client is gone once the COPY can go on: let it.
      await hold.release();
      released = true;
      await waitFor('the killed load’s backend to end', () => backendGone(t.url, t.name, APP));
    } finally {
      killRunning();
      if (!released) await hold.release();
    }
    expect((await databaseChecksum(t.url)).digest).toBe(t.before);
  });

  for (const [signal, code] of [
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const) {
    it(`${signal}: cancels the COPY, rolls back, says nothing was loaded, exits ${code}`, async () => {
      const t = await target();
      const hold = await holdEventsRow(t.url, BLOCK_AT);
      try {
        const child = startCli(materializeArgs(t.url));
        await copyInProgress(t.url, t.name);
        child.child.kill(signal);
        // The CLI cancels the COPY itself: no need to release the blocking row first.
        const r = await child.exited;
        expect(r.code, r.stderr).toBe(code);
        expectCleanError(r.stderr);
        expect(r.stderr).toContain(`replay-env: ${signal}: stopping and cleaning up`);
        expect(r.stderr).toMatch(
          new RegExp(
            `materialize interrupted; nothing was loaded: the transaction was rolled back and the target is unchanged \\(${signal}\\)`,
          ),
        );
        expect(await backendGone(t.url, t.name, APP)).toBe(true);
      } finally {
        killRunning();
        await hold.release();
      }
      expect((await databaseChecksum(t.url)).digest).toBe(t.before);
    });
  }
});

describe('run: interrupted while it loads the capsule', () => {
  it('SIGTERM cancels the load (rolled back), records it in the trace and stops; target unchanged', async () => {
    const t = await target();
    const hold = await holdEventsRow(t.url, BLOCK_AT);
    const traceOut = join(work.dir, `run-${t.name}.trace.json`);
    try {
      const child = startCli([
        'run',
        '--app',
        manifest,
        '--capsule',
        capsule,
        '--db-url',
        t.url,
        '--load-strategy',
        'copy',
        '--trace-out',
        traceOut,
      ]);
      await waitFor('the run’s COPY into events to be in progress', () =>
        blockedBackend(t.url, t.name, 'replay-env run', 'copy%events%'),
      );
      child.child.kill('SIGTERM');
      // No need to release the blocking row: the run cancels its own COPY.
      const r = await child.exited;
      expect(r.signal, r.stderr).toBeNull();
      expect(r.code, r.stderr).not.toBe(0);
      expectCleanError(r.stderr);
      expect(await backendGone(t.url, t.name, 'replay-env run')).toBe(true);
      const trace = JSON.parse(readFileSync(traceOut, 'utf8'));
      expect(trace.materialization.status).toBe('failed');
      expect(trace.materialization.error).toMatch(/interrupted; nothing was loaded/);
      expect(trace.gate.decision).toBe('block');
    } finally {
      killRunning();
      await hold.release();
    }
    expect((await databaseChecksum(t.url)).digest).toBe(t.before);
  });
});
