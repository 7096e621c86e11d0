/** Computing the policy's facts from the trace, the judges' verdicts and the golden differences. */
import { analyseCapsule } from '../judge/capsule-integrity.js';
import type { Scenario } from '../judge/loop.js';
import { checkCounts } from '../judge/materialization-integrity.js';
import { outboundFacts } from '../judge/no-external-side-effects.js';
import type { Difference, JudgeResult, Verdict } from '../judge/schema.js';
import type { Trace } from '../trace/schema.js';
import type { Facts } from './facts.js';

export interface FactInputs {
  trace: Trace;
  judges: JudgeResult[];
  differences: Difference[];
  scenario?: Scenario;
  goldenPresent: boolean;
  slowerThanGolden: boolean;
  overTimeBudget: boolean;
  /** The golden judged another capsule (judge/capsule-binding.ts): it was not compared. */
  goldenCapsuleDiffers?: boolean;
  /** The scenario pins a capsule and the trace replayed another. */
  scenarioCapsuleMismatch?: boolean;
  /** What the database-state judge found (judge/db-state.ts); absent: nothing. */
  database?: { outsideRows: number; differsFromGolden: boolean; contentDiffers: boolean };
}

const INTEGRITY_JUDGES = ['capsule-integrity', 'materialization-integrity', 'no-external-side-effects'];

export function computeFacts(input: FactInputs): Facts {
  const { trace, judges, differences, scenario } = input;
  const verdict = (id: string): Verdict => judges.find((j) => j.id === id)?.verdict ?? 'skip';
  const capsule = analyseCapsule(trace, scenario);
  const counts = checkCounts({ trace });
  const { denied, external } = outboundFacts(trace.outbound);
  const required = (e: Trace['events'][number]) => !e.ok && !e.allowFailure;
  const probes = trace.events.filter((e) => e.kind.startsWith('probe-'));
  const commands = trace.events.filter((e) =>
    ['command', 'setup', 'migrate', 'background-start'].includes(e.kind),
  );
  const names = new Set(probes.map((e) => e.name));
  const findings = trace.capsule?.findings ?? 0;

  const requiredCommandFailed = commands.some(required);
  const requiredProbeFailed = probes.some(required);
  const materializationFailed = trace.materialization.status === 'failed';
  const runBlocked = trace.gate.decision === 'block';
  const integrityFailed = INTEGRITY_JUDGES.some((id) => verdict(id) === 'fail');
  // The run blocked but nothing we see explains it; or the probes saw exactly the golden's results
  // although an integrity judge failed (the probes are probably not exercising the replayed data).
  const explained = integrityFailed || requiredCommandFailed || requiredProbeFailed || materializationFailed;
  const judgeDisagreement =
    (runBlocked && !explained) || (verdict('golden-match') === 'pass' && integrityFailed);

  return {
    capsule_missing: capsule.missing,
    capsule_subject_missing: capsule.subjectMissing,
    capsule_graph_missing: capsule.graphMissing,
    graph_related_users: capsule.relatedUsers,
    interaction_tables_empty: !capsule.missing && capsule.interactionEmpty.length > 0,
    raw_export_requested: trace.capsule?.redaction === 'raw',
    capsule_findings: findings,
    safe_export_contains_credentials: trace.capsule?.redaction === 'safe' && findings > 0,
    materialization_failed: materializationFailed,
    materialization_skipped: trace.materialization.status === 'skipped',
    materialization_count_mismatch: trace.materialization.status === 'ok' && counts.mismatches.length > 0,
    required_command_failed: requiredCommandFailed,
    required_probe_failed: requiredProbeFailed,
    required_probe_missing: (scenario?.probes ?? []).some((p) => !names.has(p)),
    private_frontend_failed: probes.some(
      (e) => !e.ok && (e.kind === 'probe-browser' || e.name.toLowerCase().includes('private')),
    ),
    browser_console_errors: probes.reduce((n, e) => n + (e.browser?.consoleErrors.length ?? 0), 0),
    browser_failed_requests: probes.reduce((n, e) => n + (e.browser?.failedRequests.length ?? 0), 0),
    run_gate_blocked: runBlocked,
    real_external_publish_attempted: denied.length > 0,
    external_host_reached: external.length > 0,
    golden_missing: !input.goldenPresent,
    golden_capsule_differs: input.goldenCapsuleDiffers === true,
    scenario_capsule_mismatch: input.scenarioCapsuleMismatch === true,
    golden_mismatch: differences.some((d) => d.risk === 'fail'),
    golden_tolerated_difference: differences.some(
      (d) => d.risk === 'warn' && d.change !== 'added' && d.change !== 'pixels',
    ),
    golden_new_fields: differences.some((d) => d.risk === 'warn' && d.change === 'added'),
    golden_screenshot_changed: differences.some((d) => d.change === 'pixels' && d.risk !== 'info'),
    slower_than_golden: input.slowerThanGolden,
    over_time_budget: input.overTimeBudget,
    judge_disagreement: judgeDisagreement,
    capsule_integrity: verdict('capsule-integrity'),
    materialization_integrity: verdict('materialization-integrity'),
    no_external_side_effects: verdict('no-external-side-effects'),
    golden_match: verdict('golden-match'),
    duration: verdict('duration'),
    write_outside_subject: (input.database?.outsideRows ?? 0) > 0,
    rows_written_outside_subject: input.database?.outsideRows ?? 0,
    database_changes_differ: input.database?.differsFromGolden === true,
    database_content_differs: input.database?.contentDiffers === true,
    database_state: verdict('database-state'),
  };
}
