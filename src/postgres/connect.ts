/**
 * Opening node-postgres clients with errors a user can act on. The caller owns the client and
 * must `end()` it (use `withClient` for a scoped lifetime).
 */
import pg from 'pg';
import { FailureError } from '../errors.js';
import { displayUrl } from './target-safety.js';

// Exact values: never let node-postgres turn int8/numeric into JS numbers (we mostly read JSON text anyway).
pg.types.setTypeParser(20, (v) => v); // int8
pg.types.setTypeParser(1700, (v) => v); // numeric

export interface ConnectOptions {
  /** Shown in pg_stat_activity. */
  applicationName?: string;
  /** statement_timeout in ms (0 = none). */
  statementTimeoutMs?: number;
  /** What this connection is for, used in error messages ("export source", "replay target"). */
  role?: string;
}

export async function connect(url: string, options: ConnectOptions = {}): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: url,
    application_name: options.applicationName ?? 'replay-env',
    statement_timeout: options.statementTimeoutMs || undefined,
  });
  // An idle client whose server goes away emits 'error'; without a listener that would crash the process.
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    throw new FailureError(
      `cannot connect to ${options.role ?? 'database'} ${displayUrl(url)}: ${describePgError(err)}`,
      { cause: err },
    );
  }
  return client;
}

export async function withClient<T>(
  url: string,
  options: ConnectOptions,
  fn: (c: pg.Client) => Promise<T>,
): Promise<T> {
  const client = await connect(url, options);
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** The server's message (and code) for a pg error; the OS reason for a socket error. */
export function describePgError(err: unknown): string {
  const e = err as { message?: string; code?: string; errors?: { message?: string }[] };
  if (e?.code === 'ECONNREFUSED')
    return 'connection refused (is the server running and listening on that host/port?)';
  if (e?.code === 'ENOTFOUND') return 'host not found';
  if (e?.code === '28P01') return `authentication failed (${e.message})`;
  if (e?.code === '3D000') return e.message ?? 'database does not exist';
  if (Array.isArray(e?.errors) && e.errors.length > 0) return e.errors.map((x) => x.message).join('; ');
  return e?.message ?? String(err);
}

/** Quote an SQL identifier. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
