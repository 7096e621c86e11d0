/**
 * The target server restarted in the middle of a load. This file runs its OWN embedded
 * PostgreSQL (the shared test server is never restarted): the load is held mid-COPY (see
 * harness.ts), the server gets a fast shutdown and is started again on the same data directory
 * and port. The command must fail clearly, the target must be exactly as before (whole-database
 * checksum), and the same command run again must succeed.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddedServer, startEmbeddedPostgres } from '../../src/postgres/embedded.js';
import { cli } from '../helpers/cli.js';
import { databaseChecksum } from '../helpers/db-checksum.js';
import {
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

const EVENTS = 20_000;
const work = workDir('fault-restart-');
let server: EmbeddedServer | undefined;
let url = '';
let manifest = '';
let capsule = '';

beforeAll(async () => {
  manifest = writeManifest(work.dir);
  capsule = writeCapsule(join(work.dir, 'big.json'), bigCapsule(EVENTS));
  server = await startEmbeddedPostgres();
  url = await server.createDatabase('target');
  await withPg(url, (c) => c.query(SCHEMA_SQL + EXISTING_SQL));
});
afterAll(async () => {
  killRunning();
  await server?.stop();
  work.cleanup();
});

describe('materialize: the target server restarted mid-load', () => {
  it('fails clearly, leaves the target unchanged, and the same load succeeds afterwards', async () => {
    const before = await databaseChecksum(url);
    const args = [
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
    const hold = await holdEventsRow(url, 10000 + 12_000);
    const child = startCli(args);
    const b = await waitFor('the COPY into events to be in progress', () =>
      blockedBackend(url, 'target', 'replay-env materialize', 'copy%events%'),
    );
    expect(b.tuples ?? 0).toBeGreaterThan(0);

    const port = server!.port;
    const dataDir = server!.dataDir;
    await server!.restart(); // fast shutdown, then start on the same data directory and port
    expect(server!.port).toBe(port);
    expect(server!.dataDir).toBe(dataDir);
    await hold.release(); // its session ended with the shutdown

    const r = await child.exited;
    expect(r.code, r.stderr).toBe(1);
    expectCleanError(r.stderr);
    expect(r.stderr).toMatch(/the connection to the replay target was lost while loading events/);
    expect(r.stderr).toMatch(LOST_REASON);
    expect(r.stderr).toMatch(/nothing was loaded and the target is unchanged/);

    const after = await databaseChecksum(url);
    expect(after.digest).toBe(before.digest);

    const again = await cli(args);
    expect(again.code, again.stderr).toBe(0);
    const counts = await withPg(url, async (c) => {
      const q = async (sql: string) => Number((await c.query(sql)).rows[0].n);
      return {
        acmeEvents: await q(`select count(*) as n from events where tenant_id = 'acme'`),
        otherEvents: await q(`select count(*) as n from events where tenant_id = 'other'`),
        acmeAccounts: await q(`select count(*) as n from accounts where tenant_id = 'acme'`),
      };
    });
    expect(counts).toEqual({ acmeEvents: EVENTS, otherEvents: 1, acmeAccounts: 3 });
  });
});
