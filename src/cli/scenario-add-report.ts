/**
 * `scenario add`: whether to bless (asked, never in CI, never on a block), and what it prints —
 * the run's summary with the judgement (the `run` command's), what was stored and registered, the
 * files to commit and the next step; with --json one document (scenario-json.ts).
 */
import { relative } from 'node:path';
import type { Judgement } from '../judge/schema.js';
import type { Trace } from '../trace/schema.js';
import { type CliIO, printJson } from './context.js';
import { summary } from './run.js';
import type { ScenarioAddFlags } from './scenario-add.js';
import type { AddPlan } from './scenario-add-plan.js';
import type { StoredForScenario } from './scenario-add-steps.js';
import type { ScenarioAddOutput } from './scenario-json.js';

export type BlessOutcome = { blessed: true; notes: string[] } | { blessed: false; why: string };

type Choice = { bless: true } | { bless: false; why: string };

/** Bless only on a confirmation nobody could give by accident: never in CI, never on a block. */
export async function blessChoice(
  flags: ScenarioAddFlags,
  io: CliIO,
  run: { trace: Trace; judgement: Judgement },
  id: string,
): Promise<Choice> {
  if (!flags.bless) return { bless: false, why: '--no-bless' };
  if (io.env.CI === 'true')
    return { bless: false, why: 'CI=true: goldens are blessed locally and reviewed, never in CI' };
  if (run.judgement.decision === 'block' || run.trace.gate.decision === 'block')
    return {
      bless: false,
      why: 'the replay blocks (expected while the bug is not fixed): fix it, replay, then bless',
    };
  if (flags.yes) return { bless: true };
  if (flags.json || !io.confirm)
    return { bless: false, why: 'nobody to confirm (no terminal, or --json): pass --yes to bless' };
  const yes = await io.confirm(
    `Bless this trace as the golden of ${id}? Only if the app behaves correctly here (the bug fixed).`,
  );
  return yes ? { bless: true } : { bless: false, why: 'not confirmed' };
}

export interface AddReport {
  plan: AddPlan;
  stored: StoredForScenario;
  registered: { entry: Record<string, unknown>; created: boolean };
  trace: Trace;
  tracePath: string;
  judgement: Judgement;
  judgementPath: string;
  blessed: BlessOutcome;
}

const rel = (r: AddReport, p: string) => relative(r.plan.repo, p) || '.';

/** `replay-env run` on the stored capsule, as the scenario replays it (for after the fix). */
function rerun(r: AddReport, flags: ScenarioAddFlags): string {
  const rewrite = Object.entries(r.plan.draft.subjectRewrite ?? {})
    .map(([k, v]) => ` --rewrite-subject ${k}=${v}`)
    .join('');
  return `replay-env run --app ${flags.app} --capsule ${r.stored.registryPath}${rewrite} --trace-out ${rel(r, r.tracePath)}`;
}

function blessStep(r: AddReport, flags: ScenarioAddFlags): string | null {
  if (r.blessed.blessed) return null;
  const golden = rel(r, r.plan.goldenPath).replace(/\/[^/]+$/, '');
  const bless = `replay-env bless --trace ${rel(r, r.tracePath)} --golden ${golden} --scenario ${r.plan.id}`;
  return r.judgement.decision === 'block'
    ? `fix the bug, replay and bless the right behaviour: ${rerun(r, flags)} && ${bless}`
    : `once the replay is right, bless it: ${bless}`;
}

function nextSteps(r: AddReport, flags: ScenarioAddFlags, commit: string[]): string[] {
  const steps: string[] = [];
  const bless = blessStep(r, flags);
  if (bless) steps.push(bless);
  steps.push(`commit: git add ${commit.join(' ')} && git commit -m "Scenario ${r.plan.id}"`);
  steps.push(
    flags.artifact
      ? `the capsule stays out of git: the nightly restores the artifact "${flags.artifact}" — upload ${rel(r, r.stored.path)} under that name from the run it reads (your export workflow)`
      : `the capsule stays out of git (capsules/ is git-ignored): the nightly needs it at ${r.stored.registryPath} (a workflow step that restores it there), or register it as an artifact (--artifact)`,
  );
  steps.push(
    'the nightly workflow (replay-regression.yml, scenarios: all) picks the scenario up from the registry; a block names it',
  );
  return steps;
}

function document(r: AddReport, flags: ScenarioAddFlags): ScenarioAddOutput {
  const commit = [rel(r, r.plan.registry.path), ...(r.blessed.blessed ? [rel(r, r.plan.goldenPath)] : [])];
  return {
    kind: 'replay-env.scenario-add',
    registry: rel(r, r.plan.registry.path),
    registryCreated: r.registered.created,
    scenario: r.registered.entry as ScenarioAddOutput['scenario'],
    capsule: {
      path: r.stored.registryPath,
      source: r.stored.source,
      copied: r.stored.copied,
      encrypted: r.stored.encrypted,
      sha256: r.stored.sha256,
      ...(r.stored.redaction ? { redaction: r.stored.redaction } : {}),
    },
    trace: rel(r, r.tracePath),
    judgement: rel(r, r.judgementPath),
    decision: r.judgement.decision,
    reasons: r.judgement.reasons,
    golden: {
      path: rel(r, r.plan.goldenPath),
      blessed: r.blessed.blessed,
      ...(r.blessed.blessed ? {} : { why: r.blessed.why }),
    },
    commit,
    next: nextSteps(r, flags, commit),
  };
}

/** The replay and its judgement, as `run` shows them: before the question whether to bless. */
export function printJudgement(
  io: CliIO,
  flags: ScenarioAddFlags,
  r: { repo: string; trace: Trace; tracePath: string; judgement: Judgement },
): void {
  if (flags.json) return;
  io.stdout(summary(r.trace, relative(r.repo, r.tracePath), r.judgement));
  // What each judge that did not pass found (tables and counts, never values).
  const notPassed = r.judgement.judges.filter((j) => j.verdict === 'fail' || j.verdict === 'warn');
  for (const j of notPassed)
    io.stdout(`  ${j.verdict === 'fail' ? 'FAIL' : 'WARN'} ${j.title}: ${j.summary}\n`);
}

export function printAdd(io: CliIO, flags: ScenarioAddFlags, r: AddReport): void {
  const doc = document(r, flags);
  if (flags.json) {
    printJson(io, doc);
    return;
  }
  if (r.blessed.blessed) for (const n of r.blessed.notes) io.stderr(`note: ${n}\n`);
  const c = doc.capsule;
  io.stdout(
    [
      `scenario ${r.plan.id}: registered in ${doc.registry}${doc.registryCreated ? ' (created)' : ''}`,
      `  capsule: ${c.path} (${c.source === 'export' ? `exported, ${c.redaction}` : c.copied ? 'copied' : 'in place'}, ${c.encrypted ? 'encrypted' : 'NOT encrypted'}; sha256 ${c.sha256.slice(0, 12)})`,
      `  judgement: ${doc.judgement}: ${doc.decision.toUpperCase()}`,
      `  golden: ${doc.golden.path} ${doc.golden.blessed ? 'written (blessed)' : `not blessed: ${doc.golden.why}`}`,
      'next:',
      ...doc.next.map((s) => `  - ${s}`),
      '',
    ].join('\n'),
  );
}
