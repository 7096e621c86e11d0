/**
 * Is this database URL safe to write a replay into?
 *
 * One rule, shared by doctor, materialize, run and the Action. Local targets (localhost,
 * 127.0.0.0/8, ::1, unix sockets, single-label hosts such as a CI service container named
 * `postgres`) are allowed. Managed-cloud hosts and names that contain `prod`/`production` as a
 * word are production-looking and refused. Any other remote host is refused unless the caller
 * passes allowRemote (e.g. a staging database). The original tool refused any URL containing
 * "prod" anywhere, so `product_catalog` was refused; here "prod" must be a whole word.
 *
 * `classifyDatabaseUrl` judges a URL; `targetRefusal` turns the verdict into the refusal every
 * writer uses, and `refuseUnsafeTarget` throws it as bad input (exit 2) before any connection.
 */

import { InputError } from '../errors.js';
import { splitHosts } from './libpq-host.js';

export type TargetVerdict =
  | { kind: 'local'; host: string; reason: string }
  | { kind: 'remote'; host: string; reason: string }
  | { kind: 'production'; host: string; reason: string }
  | { kind: 'invalid'; host: string; reason: string };

const MANAGED_CLOUD = [
  /\.rds\.amazonaws\.com$/,
  /\.redshift\.amazonaws\.com$/,
  /\.supabase\.co$/,
  /\.supabase\.com$/,
  /\.pooler\.supabase\.com$/,
  /\.neon\.tech$/,
  /\.render\.com$/,
  /\.aivencloud\.com$/,
  /\.azure\.com$/,
  /\.database\.azure\.com$/,
  /\.cloudsql\.google\.com$/,
  /\.googleapis\.com$/,
  /\.db\.ondigitalocean\.com$/,
  /\.heroku\.com$/,
  /\.herokuapp\.com$/,
  /\.compute\.amazonaws\.com$/,
  /\.timescale\.com$/,
  /\.tsdb\.cloud\.timescale\.com$/,
  /\.railway\.app$/,
  /\.rlwy\.net$/,
  /\.crunchybridge\.com$/,
  /\.elephantsql\.com$/,
  /\.cockroachlabs\.cloud$/,
  /\.xata\.sh$/,
  /\.psdb\.cloud$/,
];

/** `prod` or `production` as a word: delimited by start/end or a non-alphanumeric character. */
const PROD_WORD = /(^|[^a-z0-9])(prod|production|prd)([^a-z0-9]|$)/i;

function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h)) return true;
  if (/^::ffff:127\./.test(h)) return true;
  return false;
}

/** libpq's environment defaults, used by node-postgres for whatever the URL leaves out. */
export interface PgEnvDefaults {
  PGHOST?: string;
  PGDATABASE?: string;
  PGUSER?: string;
}

/**
 * `env`: the environment the connection will be made from. A URL without a host (`postgres:///app`)
 * connects to PGHOST, so PGHOST is what must be judged then (likewise PGDATABASE and PGUSER).
 */
export function classifyDatabaseUrl(url: string, env: PgEnvDefaults = {}): TargetVerdict {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return {
      kind: 'invalid',
      host: '',
      reason: 'not a valid URL (expected postgres://user@host:port/database)',
    };
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    return {
      kind: 'invalid',
      host: parsed.host,
      reason: `scheme ${parsed.protocol} is not postgres:// or postgresql://`,
    };
  }
  // libpq lets query parameters override the URL's parts (?host=/var/run/postgresql for sockets,
  // ?user=, ?dbname=, ?hostaddr=): judge what the connection will use.
  const q = parsed.searchParams;
  const database =
    q.get('dbname') ?? (decodeURIComponent(parsed.pathname.replace(/^\//, '')) || env.PGDATABASE || '');
  const user = q.get('user') ?? (decodeURIComponent(parsed.username) || env.PGUSER || '');
  const host =
    q.get('hostaddr') ?? q.get('host') ?? (decodeURIComponent(parsed.hostname) || env.PGHOST || '');
  for (const [what, value] of [
    ['host', host],
    ['database', database],
    ['user', user],
  ] as const) {
    if (value && PROD_WORD.test(value)) {
      return {
        kind: 'production',
        host,
        reason: `${what} name ${JSON.stringify(value)} contains "prod" as a word`,
      };
    }
  }
  // Several hosts (`a,b`): libpq tries each, so the most dangerous one decides.
  const verdicts = splitHosts(host).map(classifyHost);
  const rank = { invalid: 3, production: 2, remote: 1, local: 0 } as const;
  return verdicts.reduce((worst, v) => (rank[v.kind] > rank[worst.kind] ? v : worst));
}

/** One host, normalized as libpq reaches it (libpq-host.ts). */
function classifyHost(host: string): TargetVerdict {
  if (PROD_WORD.test(host))
    return {
      kind: 'production',
      host,
      reason: `host name ${JSON.stringify(host)} contains "prod" as a word`,
    };
  if (host === '' || host.startsWith('/'))
    return { kind: 'local', host: host || '(default socket)', reason: 'unix socket' };
  if (isLoopbackHost(host)) return { kind: 'local', host, reason: 'loopback address' };
  const lower = host.toLowerCase();
  const cloud = MANAGED_CLOUD.find((re) => re.test(lower));
  if (cloud)
    return {
      kind: 'production',
      host,
      reason: `managed-cloud database host (${lower.replace(/^[^.]+/, '*')})`,
    };
  if (!lower.includes('.') && !lower.includes(':')) {
    return {
      kind: 'local',
      host,
      reason: 'single-label host (a CI service container or docker-compose service)',
    };
  }
  return {
    kind: 'remote',
    host,
    reason: `remote host ${host}; pass --allow-remote if it is a throwaway/staging database`,
  };
}

/** Redact the password (also a `?password=` parameter, which node-postgres accepts) for display. */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    for (const key of [...u.searchParams.keys()])
      if (/pass|secret|key|token/i.test(key)) u.searchParams.set(key, '***');
    return u.toString();
  } catch {
    return '(invalid URL)';
  }
}

/** Why a replay may not write into a target: the URL as shown (password masked) and the reason. */
export interface TargetRefusal {
  verdict: TargetVerdict;
  shown: string;
  why: string;
}

/**
 * The refusal for `url`, or undefined when it may be written into: invalid and production-looking
 * targets always; remote ones unless `allowRemote` (the CLI's --allow-remote).
 */
export function targetRefusal(
  url: string,
  env: PgEnvDefaults,
  allowRemote: boolean,
): TargetRefusal | undefined {
  const verdict = classifyDatabaseUrl(url, env);
  if (verdict.kind === 'local' || (verdict.kind === 'remote' && allowRemote)) return undefined;
  const why =
    verdict.kind === 'production'
      ? `it looks like a production database (${verdict.reason})`
      : verdict.reason;
  return { verdict, shown: displayUrl(url), why };
}

export interface TargetUse {
  /** What would be done to the target: `replay into`, `materialize into`. */
  doing: string;
  allowRemote: boolean;
  /** Where the URL came from (`--db-url`, an env var's name), named first. */
  source?: string;
  /** Appended to the refusal of a production-looking target (what writing would do). */
  productionNote?: string;
}

/** Throws the refusal as bad input: `[source: ]refusing to <doing> <url>: <why>`. */
export function refuseUnsafeTarget(url: string, env: PgEnvDefaults, use: TargetUse): void {
  const refusal = targetRefusal(url, env, use.allowRemote);
  if (!refusal) return;
  const note = refusal.verdict.kind === 'production' && use.productionNote ? `; ${use.productionNote}` : '';
  throw new InputError(
    `${use.source ? `${use.source}: ` : ''}refusing to ${use.doing} ${refusal.shown}: ${refusal.why}${note}`,
  );
}
