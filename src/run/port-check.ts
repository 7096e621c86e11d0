/**
 * Before a run starts anything, the ready URLs of its background commands must be free: when
 * something already answers there (the app of an earlier run that was killed with kill -9, a dev
 * server left open), the run would silently probe THAT process instead of the code under test.
 * A TCP connection is enough to tell (any listener counts, HTTP or not).
 */
import { connect } from 'node:net';
import { FailureError } from '../errors.js';
import type { ManifestCommand } from '../manifest/schema.js';

const CONNECT_TIMEOUT_MS = 1000;

/** host and port of an http(s) URL (default ports filled in), or null for other schemes. */
function urlEndpoint(url: string): { host: string; port: number } | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return null;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
  const port = u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
  return { host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port };
}

/** True when something accepts a TCP connection on host:port. */
export function somethingListens(
  host: string,
  port: number,
  timeoutMs = CONNECT_TIMEOUT_MS,
): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (answer: boolean) => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Refuses to start when a background command's readyUrl already answers. */
export async function refuseOccupiedReadyUrls(commands: readonly ManifestCommand[]): Promise<void> {
  for (const [i, cmd] of commands.entries()) {
    if (!cmd.background || !cmd.readyUrl) continue;
    const at = urlEndpoint(cmd.readyUrl);
    if (!at || !(await somethingListens(at.host, at.port))) continue;
    throw new FailureError(
      `refusing to start: something already answers on ${cmd.readyUrl} (port ${at.port}), the readyUrl of background command "${cmd.name}" (commands[${i}]); the run would probe that process instead of the code under test. Stop it first (an earlier run killed with kill -9 can leave its app behind)`,
    );
  }
}
