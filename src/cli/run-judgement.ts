/**
 * `run` decides like `judge`: after the replay, the trace is judged with the same defaults
 * `replay-env judge --trace T --app M` uses (the manifest's golden dir and policy, the shipped
 * loop), so the decision `run` prints and exits with is the one `judge` gives on the same trace.
 * (The trace's own `gate` stays what the run itself saw: failed steps, denied egress.) A run
 * without a capsule has nothing for judge's capsule judges: there the run's own gate decides.
 */
import { judgeTrace } from '../gate/judge-trace.js';
import { loadPolicy } from '../gate/policy.js';
import type { Judgement } from '../judge/schema.js';
import { loadSetupGolden, resolveSetup } from '../judge/setup.js';
import type { Trace } from '../trace/schema.js';

export function judgeRunTrace(
  trace: Trace,
  options: { app: string; cwd: string; tracePath?: string; scenario?: string },
): Judgement {
  const setup = resolveSetup(
    { cwd: options.cwd, app: options.app, ...(options.scenario ? { scenario: options.scenario } : {}) },
    trace,
  );
  return judgeTrace({
    trace,
    ...(options.tracePath ? { tracePath: options.tracePath } : {}),
    golden: loadSetupGolden(setup),
    goldenPath: setup.goldenPath,
    policy: loadPolicy(setup.policyPath),
    ...(setup.manifest ? { manifest: setup.manifest } : {}),
    ...(setup.scenario ? { scenario: setup.scenario } : {}),
    judges: setup.judges,
    repoRoot: options.cwd,
  });
}
