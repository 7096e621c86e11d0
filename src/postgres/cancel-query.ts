/**
 * Cancelling what a session is running on the server. Closing the socket is not enough: a backend
 * busy in a long query (a graph query, a COPY's scan) notices the client is gone only when it next
 * writes to it, so on a production source the query would go on. pg_cancel_backend from a second
 * connection stops it at once; awaited before the process exits.
 */
import type pg from 'pg';
import { connect } from './connect.js';

/** The backend pid node-postgres keeps from BackendKeyData (not in its type declarations). */
function backendPid(client: pg.Client): number | null {
  return (client as unknown as { processID?: number | null }).processID ?? null;
}

/**
 * pg_cancel_backend(pid of `client`) over a second connection to `url`. Never throws; says whether
 * the cancel was sent (the session itself stays open, e.g. for a ROLLBACK).
 */
export async function cancelBackend(url: string, client: pg.Client, role: string): Promise<boolean> {
  const pid = backendPid(client);
  if (!pid) return false;
  try {
    const other = await connect(url, { role, applicationName: 'replay-env cancel' });
    try {
      await other.query('select pg_cancel_backend($1)', [pid]);
      return true;
    } finally {
      await other.end().catch(() => {});
    }
  } catch {
    return false;
  }
}

/** cancelBackend, then close `client` whatever happened. Never throws. */
export async function cancelAndClose(url: string, client: pg.Client, role: string): Promise<void> {
  await cancelBackend(url, client, role);
  await client.end().catch(() => {});
}
