/**
 * Waiting for the job's Postgres service container: it usually starts a few seconds after the job.
 * Retries with exponential backoff for a bounded time; when it never accepts connections the
 * error shows the `services: postgres` block to add to the workflow.
 */
import { FailureError } from '../errors.js';
import { connect, describePgError } from '../postgres/connect.js';
import { displayUrl } from '../postgres/target-safety.js';

export interface WaitOptions {
  timeoutSeconds: number;
  /** Called before each retry (for the log). */
  onRetry?: (attempt: number, reason: string, delayMs: number) => void;
  sleep?: (ms: number) => Promise<void>;
}

/** SQLSTATEs that will not get better by waiting (wrong password, no such database or role). */
const PERMANENT = new Set(['28P01', '28000', '3D000']);

function servicesBlock(url: string): string {
  let port = '5432';
  let user = 'postgres';
  let password = 'postgres';
  let database = 'postgres';
  try {
    const u = new URL(url);
    port = u.port || port;
    user = decodeURIComponent(u.username) || user;
    password = u.password ? 'postgres  # the password in database-url' : password;
    database = decodeURIComponent(u.pathname.replace(/^\//, '')) || database;
  } catch {
    // keep the conventional defaults
  }
  return [
    'jobs:',
    '  replay:',
    '    runs-on: ubuntu-latest',
    '    services:',
    '      postgres:',
    '        image: postgres:16',
    '        env:',
    `          POSTGRES_USER: ${user}`,
    `          POSTGRES_PASSWORD: ${password}`,
    `          POSTGRES_DB: ${database}`,
    '        ports:',
    `          - ${port}:5432`,
    '        options: >-',
    '          --health-cmd pg_isready',
    '          --health-interval 5s',
    '          --health-timeout 5s',
    '          --health-retries 10',
  ].join('\n');
}

export async function waitForPostgres(
  url: string,
  options: WaitOptions,
): Promise<{ attempts: number; version: string }> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const deadline = Date.now() + options.timeoutSeconds * 1000;
  let delay = 250;
  let attempt = 0;
  let lastReason = '';
  for (;;) {
    attempt++;
    try {
      // Each attempt ends by the deadline: a port that accepts TCP and never answers cannot hang us.
      const budget = Math.max(500, Math.min(10_000, deadline - Date.now()));
      const client = await connect(url, {
        role: 'replay database',
        applicationName: 'replay-env-action',
        connectTimeoutMs: budget,
        queryTimeoutMs: budget,
      });
      try {
        const r = await client.query<{ v: string }>('select current_setting($1) as v', ['server_version']);
        return { attempts: attempt, version: r.rows[0]?.v ?? 'unknown' };
      } finally {
        await client.end().catch(() => {});
      }
    } catch (err) {
      const code = (err as { cause?: { code?: string } }).cause?.code;
      lastReason = describePgError((err as { cause?: unknown }).cause ?? err);
      if (code && PERMANENT.has(code)) {
        throw new FailureError(
          `Postgres at ${displayUrl(url)} answered but refused the connection: ${lastReason}. ` +
            'Check the user, password and database name in the database-url input against the service container env.',
        );
      }
    }
    const left = deadline - Date.now();
    if (left <= 0) break;
    const wait = Math.min(delay, left);
    options.onRetry?.(attempt, lastReason, wait);
    await sleep(wait);
    delay = Math.min(delay * 2, 5_000);
  }
  throw new FailureError(
    `Postgres at ${displayUrl(url)} did not accept connections within ${options.timeoutSeconds}s ` +
      `(${attempt} attempts; last error: ${lastReason}). The Action needs a Postgres it may replace data in — ` +
      'usually a service container in the same job. Add this to the workflow (and keep database-url pointing at it):\n\n' +
      servicesBlock(url),
  );
}
