/**
 * judgeTrace: the gate's entry. Runs the judges on a trace (judge/run-judges.ts), computes the
 * policy's facts from what they found (compute-facts.ts), applies the gate policy (policy.ts) and
 * returns the Judgement (validated by judgementSchema). Pure: reads screenshot files only.
 */
import { type JudgeRunOptions, runJudges } from '../judge/run-judges.js';
import { JUDGEMENT_SCHEMA_VERSION, type Judgement, judgementSchema } from '../judge/schema.js';
import { computeFacts } from './compute-facts.js';
import { evaluatePolicy, type GatePolicy } from './policy.js';

export interface JudgeTraceOptions extends JudgeRunOptions {
  traceSha256?: string;
  policy: GatePolicy;
  /** Shown in the judgement; default policy.path. */
  policyPath?: string;
  now?: Date;
}

export function judgeTrace(opts: JudgeTraceOptions): Judgement {
  const run = runJudges(opts);
  const facts = computeFacts({
    trace: opts.trace,
    judges: run.judges,
    differences: run.differences,
    scenario: opts.scenario,
    goldenPresent: run.golden !== null,
    slowerThanGolden: run.slowerThanGolden,
    goldenCapsuleDiffers: run.goldenCapsuleDiffers,
    scenarioCapsuleMismatch: run.scenarioCapsuleMismatch,
    overTimeBudget: run.overTimeBudget,
    database: run.database,
  });
  const outcome = evaluatePolicy(opts.policy, facts);
  const judgement: Judgement = {
    schemaVersion: JUDGEMENT_SCHEMA_VERSION,
    kind: 'replay-env.judgement',
    app: opts.trace.app,
    scenario: opts.scenario?.id ?? opts.trace.scenario,
    createdAt: (opts.now ?? new Date()).toISOString(),
    decision: outcome.decision,
    reasons: outcome.reasons,
    humanReview: outcome.humanReview,
    judges: run.judges,
    differences: run.differences,
    timing: run.timing,
    baseline: run.baseline,
    facts,
    trace: {
      ...(opts.tracePath ? { path: opts.tracePath } : {}),
      ...(opts.traceSha256 ? { sha256: opts.traceSha256 } : {}),
    },
    golden: run.golden ? { path: run.golden.path } : null,
    policy: {
      path: opts.policyPath ?? opts.policy.path,
      ...(opts.policy.name ? { name: opts.policy.name } : {}),
    },
    ...(run.database.summary ? { database: run.database.summary } : {}),
    failures: run.failures,
    annotations: run.annotations,
    evidence: run.evidence,
  };
  return judgementSchema.parse(judgement);
}
