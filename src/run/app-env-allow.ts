/**
 * The environment the app under test gets is allow-listed: what a process needs to run (PATH,
 * HOME, locale, time zone, temp dir, NODE_ENV…), plus what the replay itself sets (the replay
 * database URL, DATABASE_URL, REPLAY_ENV=1, the egress proxy) and the command's own `env`.
 * Everything else in the caller's environment — registry tokens (NPM_AUTH…), Sentry DSNs, cloud
 * credentials, PG* variables that may point at production — reaches the app only when the
 * manifest names it in `run.passEnv` (or `secrets.env`, whose values are also masked in traces).
 * The withheld variables (the production URL, the capsule key: schema-steps.ts) never do.
 */
import type { Manifest } from '../manifest/schema.js';

/** Passed by default: a process's basic needs, never credentials. */
const DEFAULT_PASSED_ENV: readonly string[] = [
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'SHELL',
  'LANG',
  'LANGUAGE',
  'LC_ALL',
  'TZ',
  'TERM',
  'TMPDIR',
  'TMP',
  'TEMP',
  'NODE_ENV',
  'CI',
  'NODE_EXTRA_CA_CERTS',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
];

/** Locale categories (LC_CTYPE, LC_TIME…) pass too. */
const LOCALE = /^LC_[A-Z]+$/;

/** The names the manifest opts in: `run.passEnv` and `secrets.env`. */
export function optedInEnv(manifest: Manifest): string[] {
  return [...(manifest.run?.passEnv ?? []), ...(manifest.secrets?.env ?? [])];
}

/** True when `name` may pass from the caller's environment to the app (before withholding). */
export function passesToApp(name: string, optedIn: ReadonlySet<string>): boolean {
  return DEFAULT_PASSED_ENV.includes(name) || LOCALE.test(name) || optedIn.has(name);
}
