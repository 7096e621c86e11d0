/**
 * Cancelling what a session is running on the server. Closing the socket is not enough: a backend
 * busy in a long query (a graph query, a COPY's scan) notices the client is gone only when it next
 * writes to it, so on a production source the query would go on. pg_cancel_backend from a second
 * connection stops it at once; awaited before the process exits.
 */
import type pg from 'pg';
import { connect } from './connect.js';

/** The backend pid node-postgres keeps from BackendKeyData (not in its type declarations). */
export function backendPid(client: pg.Client): number | null {
  return (client as unknown as { processID?: number | null }).processID ?? null;
}

/**
 * pg_cancel_backend(pid of `client`) over a second connection to `url`, then close `client`.
 * Never throws: when the cancel cannot be sent the session is only closed.
 */
export async function cancelAndClose(url: string, client: pg.Client, role: string): Promise<void> {
  const pid = backendPid(client);
  try {
    if (pid) {
      const other = await connect(url, { role, applicationName: 'replay-env cancel' });
      try {
        await other.query('select pg_cancel_backend($1)', [pid]);
      } finally {
        await other.end().catch(() => {});
      }
    }
  } catch {
    // fall through: closing the session is all that is left
  } finally {
    await client.end().catch(() => {});
  }
}
