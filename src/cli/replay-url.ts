/**
 * The replay database a command was given: `--db-url`, else the manifest's replay-URL variable
 * (postgres.replayDatabaseUrlEnv). Neither: the embedded default (cli/zero-setup.ts). A given URL
 * is refused before any connection when it is production-looking, invalid, or remote without
 * --allow-remote (postgres/target-safety.ts), naming where it came from.
 */
import { type Manifest, replayUrlEnv } from '../manifest/schema.js';
import { refuseUnsafeTarget, type TargetUse } from '../postgres/target-safety.js';
import type { CliIO } from './context.js';

/** Returns the URL given (checked), or undefined for the embedded default. */
export function checkGivenReplayUrl(
  manifest: Manifest,
  flags: { dbUrl?: string; allowRemote?: boolean },
  io: CliIO,
  use: Pick<TargetUse, 'doing' | 'productionNote'>,
): string | undefined {
  const envName = replayUrlEnv(manifest);
  // `||`, as in resolveReplayTarget: an empty --db-url must not let the env var's URL in unchecked.
  const url = flags.dbUrl || io.env[envName];
  if (!url) return undefined;
  refuseUnsafeTarget(url, io.env, {
    ...use,
    allowRemote: flags.allowRemote === true,
    source: flags.dbUrl ? '--db-url' : envName,
  });
  return url;
}
