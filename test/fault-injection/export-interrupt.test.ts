/**
 * Export interrupted mid-write never leaves a capsule at --out, and cleans its temp file up when
 * it can: the connection killed (pg_terminate_backend), the process interrupted (SIGTERM/SIGINT:
 * exit 143/130) or killed (SIGKILL: the temp file stays, owned by a dead pid, and the next export
 * to the same path removes it). The export is held mid-write by a lock on its last table (see
 * harness.ts): its temp file already holds the first tables' rows. The source is read only:
 * its checksum is the same before and after.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';
import { useTestDatabase } from '../helpers/db.js';
import { databaseChecksum } from '../helpers/db-checksum.js';
import {
  blockedBackend,
  expectCleanError,
  killRunning,
  lockTable,
  outputLeftovers,
  sourceSql,
  startCli,
  tempFileOf,
  waitFor,
  withPg,
  workDir,
  writeManifest,
} from './harness.js';

const APP = 'replay-env export';
const db = useTestDatabase('fault_exp');
const work = workDir('fault-exp-');
let manifest = '';
let before = '';

beforeAll(async () => {
  manifest = writeManifest(work.dir);
  await withPg(db.url, (c) => c.query(sourceSql(5000)));
  before = (await databaseChecksum(db.url)).digest;
});
afterAll(() => work.cleanup());

let n = 0;
const outPath = () => join(work.dir, `out${n++}`, 'acme.json');
const exportArgs = (out: string) => [
  'export-postgres',
  '--app',
  manifest,
  '--subject',
  'tenant_id=acme',
  '--db-url',
  db.url,
  '--redaction',
  'raw',
  '--out',
  out,
];

/** Waits until the export waits for `audit` with `accounts` and `events` in its temp file. */
async function midWrite(out: string): Promise<{ pid: number; temp: string }> {
  const b = await waitFor('the export to wait for the audit table', () =>
    blockedBackend(db.url, db.name, APP, 'copy%audit%'),
  );
  // The writer hands text to the file in 256 KiB steps: the events rows are on disk.
  const temp = await waitFor('the export’s temp file to hold rows', () => tempFileOf(out, 1 << 18));
  return { pid: b.pid, temp };
}

describe('export: the connection killed mid-export', () => {
  it('pg_terminate_backend: clear error, exit 1, no capsule and no temp file', async () => {
    const out = outPath();
    const lock = await lockTable(db.url, 'audit_gate');
    try {
      const running = cli(exportArgs(out));
      const { pid } = await midWrite(out);
      await withPg(db.url, (c) => c.query('select pg_terminate_backend($1)', [pid]));
      const r = await running;
      expect(r.code).toBe(1);
      expectCleanError(r.stderr);
      expect(r.stderr).toMatch(/the connection to the database was lost during the export/);
      expect(r.stderr).toMatch(/postgres\.tables\[2\] \(audit\): terminating connection/);
      expect(r.stderr).toMatch(/no capsule was written/);
    } finally {
      killRunning();
      await lock.release();
    }
    expect(outputLeftovers(out)).toEqual([]);
    expect((await databaseChecksum(db.url)).digest).toBe(before);
  });
});

describe('export: the process interrupted mid-write', () => {
  for (const [signal, code] of [
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const) {
    it(`${signal}: the temp file is removed, no capsule, exit ${code}`, async () => {
      const out = outPath();
      const lock = await lockTable(db.url, 'audit_gate');
      try {
        const child = startCli(exportArgs(out));
        const { temp } = await midWrite(out);
        expect(basename(temp)).toMatch(new RegExp(`^\\.acme\\.json\\.${child.pid}\\.[0-9a-f]+\\.tmp$`));
        child.child.kill(signal);
        const r = await child.exited;
        expect(r.code, r.stderr).toBe(code);
        expectCleanError(r.stderr);
        expect(r.stderr).toContain(
          `replay-env: export interrupted; no capsule was written (its temp file was removed) (${signal})`,
        );
      } finally {
        killRunning();
        await lock.release();
      }
      expect(outputLeftovers(out)).toEqual([]);
      expect((await databaseChecksum(db.url)).digest).toBe(before);
    });
  }

  it('SIGKILL: no capsule; the dead writer’s temp file is removed by the next export to the path', async () => {
    const out = outPath();
    const lock = await lockTable(db.url, 'audit_gate');
    let stale = '';
    let killedPid = 0;
    try {
      const child = startCli(exportArgs(out));
      killedPid = child.pid;
      stale = (await midWrite(out)).temp;
      child.child.kill('SIGKILL');
      expect((await child.exited).signal).toBe('SIGKILL');
    } finally {
      killRunning();
      await lock.release();
    }
    // The atomic rename never happened: no capsule; the temp file could not be cleaned up.
    expect(existsSync(out)).toBe(false);
    expect(outputLeftovers(out)).toEqual([basename(stale)]);
    expect(basename(stale)).toContain(`.${killedPid}.`);
    // A temp file of a writer that is still running (this test's parent process) is not touched.
    const live = join(dirname(out), `.acme.json.${process.ppid}.abcdef012345.tmp`);
    writeFileSync(live, 'in progress');

    const again = await cli(exportArgs(out));
    expect(again.code, again.stderr).toBe(0);
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(live)).toBe(true);
    expect(outputLeftovers(out).sort()).toEqual([basename(live), 'acme.json'].sort());
    const capsule = JSON.parse(readFileSync(out, 'utf8'));
    expect(capsule.tables.events).toHaveLength(5000);
    expect(capsule.tables.audit).toHaveLength(10);
    expect((await databaseChecksum(db.url)).digest).toBe(before);
  });
});
