/**
 * The last phase of a run: the trace. Screenshot paths become relative to the trace file, the
 * run's own gate is computed, every string is masked (secrets never reach the trace), the result is
 * validated against the trace schema and, with `traceOut`, written atomically.
 */
import { existsSync } from 'node:fs';
import { dirname, relative } from 'node:path';
import { ReplayError } from '../errors.js';
import { runGate } from '../trace/build.js';
import { environmentFacts } from '../trace/environment.js';
import {
  type DatabaseState,
  type MaterializationRecord,
  type OutboundAttempt,
  type Trace,
  traceSchema,
} from '../trace/schema.js';
import { writeTraceAtomic } from '../trace/write.js';
import { issueLines } from '../util/zod-issues.js';
import { maskDeep } from './mask.js';
import type { RunResult } from './replay.js';
import type { RunCapsule } from './run-capsule.js';
import type { RunState } from './run-state.js';

export interface RunOutcome {
  capsule: RunCapsule | null;
  materialization: MaterializationRecord;
  /** Every outbound attempt the egress guard saw. */
  outbound: readonly OutboundAttempt[];
  /** The database-state snapshots (db-state-step.ts), when a capsule was loaded and not aborted. */
  databaseState?: DatabaseState;
}

export async function finishTrace(run: RunState, outcome: RunOutcome): Promise<RunResult> {
  const { options } = run;
  const aborted = Boolean(options.signal?.aborted);
  const outbound = [...outcome.outbound].sort((a, b) => a.at.localeCompare(b.at));
  const { events, skipped } = run;
  const { materialization } = outcome;
  const finishedAt = new Date();
  const draft: Trace = {
    schemaVersion: 1,
    kind: 'replay-env.trace',
    app: run.manifest.appId,
    ...(options.scenario ? { scenario: options.scenario } : {}),
    startedAt: run.startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationMs: finishedAt.getTime() - run.startedAt.getTime(),
    capsule: outcome.capsule?.summary ?? null,
    materialization,
    events,
    outbound,
    artifacts: screenshotArtifacts(run),
    environment: await environmentFacts(options.databaseUrl, run.cwd),
    ...(outcome.databaseState ? { databaseState: outcome.databaseState } : {}),
    gate: runGate({ materialization, events, outbound, skipped, aborted }),
  };
  const masked = maskDeep(draft, run.mask);
  const parsed = traceSchema.safeParse(masked);
  if (!parsed.success) {
    // A bug in the run loop, not in the user's input: say exactly what is wrong.
    throw new ReplayError(
      `internal error: the trace does not match its schema:\n${issueLines(parsed.error).join('\n')}`,
    );
  }
  if (run.traceOut) writeTraceAtomic(run.traceOut, masked);
  return { trace: masked, ...(run.traceOut ? { tracePath: run.traceOut } : {}) };
}

/** Screenshots the browser probes took, their paths made relative to the trace file (in place). */
function screenshotArtifacts(run: RunState): Trace['artifacts'] {
  const artifacts: Trace['artifacts'] = [];
  for (const e of run.events) {
    if (!e.browser?.screenshot) continue;
    const abs = e.browser.screenshot;
    const rel = run.traceOut ? relative(dirname(run.traceOut), abs) : abs;
    e.browser.screenshot = rel;
    if (existsSync(abs)) artifacts.push({ kind: 'screenshot', path: rel, probe: e.name });
  }
  return artifacts;
}
