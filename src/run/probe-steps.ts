/**
 * The probes of a run, in manifest order, each bound to the replay's subject values
 * (probe-binding.ts) and run by its kind. A probe that crashes is a failed probe, never a crashed
 * run; after a required step failed, or on abort, the rest are recorded as skipped.
 */
import { type ManifestProbe, probeName } from '../manifest/schema.js';
import type { TraceEvent } from '../trace/schema.js';
import type { AppSession } from './app-session.js';
import { bindProbe, type SubjectValues, subjectValues } from './probe-binding.js';
import { runBrowserProbe } from './probes/browser.js';
import { runCommandProbe } from './probes/command.js';
import type { ProbeContext } from './probes/context.js';
import { type ProbeOutcome, runHttpProbe } from './probes/http.js';
import { runSqlProbe } from './probes/sql.js';
import type { RunCapsule } from './run-capsule.js';
import type { RunState } from './run-state.js';

export async function runProbes(
  run: RunState,
  app: AppSession,
  capsule: RunCapsule | null,
  failedBefore: boolean,
): Promise<void> {
  const { options, manifest } = run;
  const { signal } = options;
  const ctx: ProbeContext = {
    cwd: run.cwd,
    env: app.env,
    databaseUrl: options.databaseUrl,
    guard: app.guard,
    artifactsDir: run.artifactsDir,
    toolEnv: options.env,
    mask: run.mask,
    ...(signal ? { signal } : {}),
  };
  const values = subjectValues({
    capsuleSubject: capsule?.summary.subject,
    rewriteTo: capsule?.summary.subjectRewrite?.to ?? options.rewrite,
    localSubject: manifest.localSubject,
  });
  for (const [i, probe] of manifest.probes.entries()) {
    const name = probeName(probe, i);
    if (failedBefore || signal?.aborted) {
      run.skipped.push(`probe "${name}"`);
      continue;
    }
    app.guard.setDuring(name);
    run.record(await timedProbe(run, probe, name, ctx, values));
  }
}

/** One probe as a trace event: when it started, how long it took, and its outcome. */
async function timedProbe(
  run: RunState,
  probe: ManifestProbe,
  name: string,
  ctx: ProbeContext,
  values: SubjectValues,
): Promise<TraceEvent> {
  const kind = `probe-${probe.kind}` as TraceEvent['kind'];
  run.emit({ kind: 'step-start', name, step: kind });
  const t0 = Date.now();
  const at = new Date().toISOString();
  let outcome: ProbeOutcome;
  try {
    outcome = await runProbe(probe, name, ctx, values);
  } catch (err) {
    outcome = { ok: false, error: `probe crashed: ${(err as Error).message}` };
  }
  return {
    name,
    kind,
    ...(probe.allowFailure ? { allowFailure: true } : {}),
    startedAt: at,
    durationMs: Date.now() - t0,
    ...outcome,
  };
}

async function runProbe(
  template: ManifestProbe,
  name: string,
  ctx: ProbeContext,
  values: SubjectValues,
): Promise<ProbeOutcome> {
  const bound = bindProbe(template, values);
  if ('error' in bound) return { ok: false, error: bound.error };
  const probe = bound.probe;
  switch (probe.kind) {
    case 'http':
      return runHttpProbe(probe, ctx);
    case 'command':
      return runCommandProbe(probe, ctx);
    case 'sql':
      return runSqlProbe(probe, ctx, bound.sql);
    case 'browser':
      return runBrowserProbe(probe, name, ctx);
  }
}
