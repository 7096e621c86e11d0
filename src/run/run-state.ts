/**
 * What the phases of one run (replay.ts) share: where the app runs and where the trace and its
 * screenshots go, the clock, and the events recorded so far (each one also reported through
 * `onEvent` as it happens).
 */
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { Manifest } from '../manifest/schema.js';
import type { TraceEvent } from '../trace/schema.js';
import { buildMasker, type Masker, secretValues } from './mask.js';
import type { RunOptions, RunProgress } from './replay.js';
import { withheldEnvNames } from './schema-steps.js';

export interface RunState {
  options: RunOptions;
  manifest: Manifest;
  /** The app's working directory (runCwd). */
  cwd: string;
  /** Absolute trace path (`traceOut` resolved against the caller's cwd). */
  traceOut?: string;
  artifactsDir: string;
  startedAt: Date;
  /** Masks every secret the run knows of (mask.ts) in what the trace records. */
  mask: Masker;
  /** Trace events in the order they happened. */
  events: TraceEvent[];
  /** Steps not run (after a failure or an abort), for the gate's reasons. */
  skipped: string[];
  emit: (progress: RunProgress) => void;
  /** Appends an event and reports it. */
  record: (event: TraceEvent) => void;
}

/** repoPath is relative to the manifest file's directory; without it, the caller's cwd. */
export function runCwd(manifest: Manifest, manifestPath: string, cwd: string): string {
  if (!manifest.repoPath) return cwd;
  return isAbsolute(manifest.repoPath)
    ? manifest.repoPath
    : resolve(dirname(resolve(cwd, manifestPath)), manifest.repoPath);
}

/**
 * The secrets to mask: the caller's extra values (the Action's capsule key and token) and the values
 * of the manifest's `secrets.env` variables, and of the withheld variables, should they reach the
 * app some other way.
 */
function runMasker(options: RunOptions): Masker {
  const { manifest } = options;
  const secretNames = [...(manifest.secrets?.env ?? []), ...withheldEnvNames(manifest)];
  return buildMasker([
    ...(options.maskValues ?? []),
    ...secretValues(
      secretNames,
      options.env,
      ...manifest.commands.map((c) => c.env ?? {}),
      ...manifest.probes.map((p) => (p.kind === 'command' ? (p.env ?? {}) : {})),
    ),
  ]);
}

export function startRun(options: RunOptions): RunState {
  const emit = options.onEvent ?? (() => {});
  const traceOut = options.traceOut ? resolve(options.cwd, options.traceOut) : undefined;
  const artifactsDir = options.artifactsDir
    ? resolve(options.cwd, options.artifactsDir)
    : traceOut
      ? join(dirname(traceOut), 'artifacts')
      : join(options.cwd, '.replay', 'artifacts');
  const events: TraceEvent[] = [];
  return {
    options,
    manifest: options.manifest,
    cwd: runCwd(options.manifest, options.manifestPath, options.cwd),
    ...(traceOut ? { traceOut } : {}),
    artifactsDir,
    startedAt: new Date(),
    mask: runMasker(options),
    events,
    skipped: [],
    emit,
    record: (event) => {
      events.push(event);
      emit({ kind: 'step-done', event });
    },
  };
}
