/**
 * The one place the run loop calls the materializer, turning its result (or failure) into the
 * trace's materialization record. A failed load never throws: the trace records it and the gate
 * blocks. Bad input (a capsule that does not fit the manifest, a bad rewrite) is still an
 * InputError (exit 2), like everywhere else.
 */
import type { OpenOptions } from '../capsule/open.js';
import { errorMessage, InputError } from '../errors.js';
import type { Manifest } from '../manifest/schema.js';
import {
  DEFAULT_STRATEGY,
  materializeCapsule,
  type PrepareTarget,
} from '../postgres/materialize/materialize-capsule.js';
import type { MaterializationRecord } from '../trace/schema.js';

export interface MaterializeStepOptions {
  manifest: Manifest;
  capsulePath: string;
  capsuleOpen?: OpenOptions;
  databaseUrl: string;
  rewrite?: Record<string, string>;
  loadStrategy?: 'jsonb' | 'copy';
  chunkSize?: number;
  /** Zero-setup replay: create the capsule's tables first (see postgres/materialize/zero-setup.ts). */
  prepareTarget?: PrepareTarget;
  /** Ctrl-C: cancels the load (rolled back; recorded as failed) so the run can stop. */
  signal?: AbortSignal;
  /** --delete-dependents: rows of undeclared child tables are deleted too (recorded). */
  deleteDependents?: boolean;
}

export interface MaterializeStepResult {
  record: MaterializationRecord;
  subjectRewrite?: { from: Record<string, string>; to: Record<string, string> };
}

export async function materializeForRun(options: MaterializeStepOptions): Promise<MaterializeStepResult> {
  const t0 = Date.now();
  const strategy = options.loadStrategy ?? DEFAULT_STRATEGY;
  try {
    const r = await materializeCapsule({
      manifest: options.manifest,
      capsulePath: options.capsulePath,
      url: options.databaseUrl,
      strategy,
      ...(options.chunkSize ? { chunkSize: options.chunkSize } : {}),
      ...(options.rewrite
        ? { rewrite: options.rewrite, rewriteSource: '--rewrite-subject/--use-local-subject' }
        : {}),
      ...(options.capsuleOpen ? { open: options.capsuleOpen } : {}),
      ...(options.prepareTarget ? { prepareTarget: options.prepareTarget } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.deleteDependents ? { deleteDependents: true } : {}),
      applicationName: 'replay-env run',
    });
    return {
      record: {
        status: 'ok',
        strategy: r.strategy,
        durationMs: r.durationMs,
        phases: r.phases,
        counts: r.counts,
        ...(r.dependents.length > 0 ? { dependentsDeleted: r.dependents } : {}),
      },
      ...(r.rewritten ? { subjectRewrite: { from: r.rewritten.from, to: r.rewritten.to } } : {}),
    };
  } catch (err) {
    if (err instanceof InputError) throw err;
    return {
      record: {
        status: 'failed',
        strategy,
        durationMs: Date.now() - t0,
        counts: [],
        error: errorMessage(err),
      },
    };
  }
}
