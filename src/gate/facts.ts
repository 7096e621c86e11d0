/**
 * The facts a gate policy may name: ONE list, used to validate policies (an unknown fact is a
 * load-time error) and to document them (docs/judge.md mirrors this table).
 *
 * Facts are computed from the trace, the judges' verdicts and the golden differences
 * (see compute-facts.ts). A policy condition reads them; nothing else does.
 */

type FactType = 'boolean' | 'number' | 'verdict';

export interface FactDefinition {
  type: FactType;
  /** One sentence, phrased so it reads well after "because": "the capsule's subject is missing". */
  description: string;
}

export const VERDICT_VALUES = ['pass', 'warn', 'fail', 'skip'] as const;

export const FACTS = {
  // capsule
  capsule_missing: { type: 'boolean', description: 'the trace carries no capsule' },
  capsule_subject_missing: {
    type: 'boolean',
    description: "the capsule's subject is missing (no subject keys, no subject graph entry, or no rows)",
  },
  capsule_graph_missing: { type: 'boolean', description: 'the capsule has no graph or no tables' },
  graph_related_users: {
    type: 'number',
    description: 'how many graph subjects besides the subject itself the capsule holds',
  },
  interaction_tables_empty: {
    type: 'boolean',
    description:
      "an expected interaction table is empty in the capsule (the scenario's interactionTables, else any table)",
  },
  raw_export_requested: {
    type: 'boolean',
    description: 'the capsule was exported with raw (unredacted) values',
  },
  capsule_findings: {
    type: 'number',
    description: 'how many secret-scanner findings the capsule carries',
  },
  safe_export_contains_credentials: {
    type: 'boolean',
    description: 'a safe (redacted) capsule still carries secret-scanner findings',
  },
  // materialization
  materialization_failed: { type: 'boolean', description: 'the capsule did not load into the database' },
  materialization_skipped: { type: 'boolean', description: 'the run skipped materialization' },
  materialization_count_mismatch: {
    type: 'boolean',
    description: 'row counts (or content hashes) in the database contradict the capsule',
  },
  // commands and probes
  required_command_failed: {
    type: 'boolean',
    description: 'a command, setup or migration step without allowFailure failed',
  },
  required_probe_failed: { type: 'boolean', description: 'a probe without allowFailure failed' },
  required_probe_missing: {
    type: 'boolean',
    description: 'a probe the scenario lists is absent from the trace',
  },
  private_frontend_failed: {
    type: 'boolean',
    description: 'a browser probe (or a probe whose name contains "private") failed',
  },
  browser_console_errors: {
    type: 'number',
    description: 'how many browser console errors the probes recorded',
  },
  browser_failed_requests: {
    type: 'number',
    description: 'how many browser requests failed during the probes',
  },
  run_gate_blocked: { type: 'boolean', description: "the run's own gate (recorded in the trace) said block" },
  // outbound network
  real_external_publish_attempted: {
    type: 'boolean',
    description: 'an outbound attempt to a host outside egress.allow was made (and denied)',
  },
  external_host_reached: {
    type: 'boolean',
    description: 'an allowed outbound request reached a non-local host',
  },
  // golden
  golden_missing: { type: 'boolean', description: 'no golden trace exists for this app/scenario' },
  golden_capsule_differs: {
    type: 'boolean',
    description:
      "the trace replayed another capsule than the golden's (another subject, or a re-export with different data), so the golden was not compared",
  },
  scenario_capsule_mismatch: {
    type: 'boolean',
    description: 'the scenario pins a capsule (capsuleSha256) and the trace replayed another',
  },
  golden_mismatch: {
    type: 'boolean',
    description:
      'a probe result differs from the golden in a way that fails (removed field, type, status, value)',
  },
  golden_tolerated_difference: {
    type: 'boolean',
    description: 'a value differs from the golden only at a tolerated path (or in command output)',
  },
  golden_new_fields: { type: 'boolean', description: 'responses carry fields or probes the golden does not' },
  golden_screenshot_changed: {
    type: 'boolean',
    description: 'a screenshot differs from the golden beyond the pixel threshold',
  },
  slower_than_golden: {
    type: 'boolean',
    description: 'the run or a probe is slower than the golden beyond the duration tolerance',
  },
  over_time_budget: {
    type: 'boolean',
    description: "the run took longer than the scenario's maxDurationSeconds",
  },
  // database state (judge/db-state.ts)
  write_outside_subject: {
    type: 'boolean',
    description:
      "the run wrote to rows outside the subject's graph (inserted, updated or deleted; a cross-tenant write)",
  },
  rows_written_outside_subject: {
    type: 'number',
    description: "how many rows outside the subject's graph the run wrote or deleted",
  },
  database_changes_differ: {
    type: 'boolean',
    description:
      'the run changed the database differently than the golden run (other tables, row counts or rows written)',
  },
  database_content_differs: {
    type: 'boolean',
    description: "the run made the golden run's database changes with other content",
  },
  // judges
  judge_disagreement: {
    type: 'boolean',
    description:
      "the judges disagree: the run's own gate blocked but nothing explains it, or every probe matched the golden while an integrity judge failed",
  },
  capsule_integrity: { type: 'verdict', description: 'the verdict of the capsule-integrity judge' },
  materialization_integrity: {
    type: 'verdict',
    description: 'the verdict of the materialization-integrity judge',
  },
  no_external_side_effects: {
    type: 'verdict',
    description: 'the verdict of the no-external-side-effects judge',
  },
  golden_match: { type: 'verdict', description: 'the verdict of the golden-match judge' },
  duration: { type: 'verdict', description: 'the verdict of the duration judge' },
  database_state: { type: 'verdict', description: 'the verdict of the database-state judge' },
} as const satisfies Record<string, FactDefinition>;

export type FactName = keyof typeof FACTS;
type FactValue = boolean | number | string;
export type Facts = Record<FactName, FactValue>;

export const FACT_NAMES = Object.keys(FACTS) as FactName[];

export function isFactName(name: string): name is FactName {
  return Object.hasOwn(FACTS, name);
}
