/** What every probe gets from the run loop. */
import type { EgressGuard } from '../egress-proxy.js';
import type { Masker } from '../mask.js';

export interface ProbeContext {
  /** Default working directory (manifest repoPath, else the current directory). */
  cwd: string;
  /** Environment for commands: base env + proxy + replay database variables. */
  env: Record<string, string>;
  /** The replay database (sql probes). */
  databaseUrl: string;
  guard: EgressGuard;
  /** Where screenshots go (absolute). */
  artifactsDir: string;
  /**
   * The tool's own environment (the caller's, not the app's allow-listed one): where the browser
   * probe looks for Chromium (REPLAY_CHROMIUM, PATH).
   */
  toolEnv: Record<string, string | undefined>;
  mask: Masker;
  signal?: AbortSignal;
}

/** Default probe timeout when the manifest gives none. */
export const DEFAULT_PROBE_TIMEOUT_S = 30;
