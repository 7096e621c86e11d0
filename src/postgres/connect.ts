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
  /** Give up connecting after this long (a port that accepts TCP and never answers). */
  connectTimeoutMs?: number;
  /** Client-side limit per query (the server may never answer). */
  queryTimeoutMs?: number;
}

export async function connect(url: string, options: ConnectOptions = {}): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: url,
    application_name: options.applicationName ?? 'replay-env',
    statement_timeout: options.statementTimeoutMs || undefined,
    ...(options.connectTimeoutMs
      ? { connectionTimeoutMillis: Math.max(1, Math.round(options.connectTimeoutMs)) }
      : {}),
    ...(options.queryTimeoutMs ? { query_timeout: Math.max(1, Math.round(options.queryTimeoutMs)) } : {}),
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

/**
 * True when `err` (or what it wraps) means the session is gone: the server terminated it
 * (pg_terminate_backend, a fast or immediate shutdown, a crash) or the socket broke. The server
 * rolls back the session's open transaction when that happens.
 */
export function isConnectionLost(err: unknown): boolean {
  for (
    let e = err as { code?: unknown; message?: unknown; cause?: unknown } | undefined, depth = 0;
    e && depth < 5;
    depth++
  ) {
    const code = typeof e.code === 'string' ? e.code : '';
    // 08xxx connection exception; 57P01 admin shutdown / terminated backend, 57P02 crash shutdown,
    // 57P03 cannot connect now (starting up or shutting down).
    if (/^08[0-9A-Z]{3}$/.test(code) || ['57P01', '57P02', '57P03'].includes(code)) return true;
    if (['ECONNRESET', 'EPIPE', 'ECONNREFUSED', 'ETIMEDOUT', 'ENOTCONN'].includes(code)) return true;
    const message = typeof e.message === 'string' ? e.message : '';
    if (/Connection terminated|not queryable|server closed the connection/i.test(message)) return true;
    e = e.cause as typeof e;
  }
  return false;
}
