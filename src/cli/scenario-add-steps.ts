/**
 * `scenario add`, the steps after the checks (scenario-add-plan.ts): store the capsule → replay
 * → judge → register → bless on confirmation → report. The registry is written only once the
 * replay could run (a block is a result, not a failure: it is what an unfixed bug looks like), so
 * an export or replay that fails registers nothing.
 */
import { dirname, join, relative } from 'node:path';
import { blessTrace } from '../judge/bless.js';
import type { Judgement } from '../judge/schema.js';
import { registryPathOf, type StoredCapsule, storeExistingCapsule } from '../scenario/capsule-store.js';
import { captureCapsule } from '../scenario/capture.js';
import { type CapsuleRef, parseEntry, scenarioEntry } from '../scenario/entry.js';
import { judgeNewScenario } from '../scenario/judge-new.js';
import { appendScenario, openRegistry, writeRegistry } from '../scenario/registry-file.js';
import { sha256File } from '../trace/build.js';
import type { Trace } from '../trace/schema.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import type { CliIO } from './context.js';
import type { ScenarioAddFlags } from './scenario-add.js';
import type { AddPlan } from './scenario-add-plan.js';
import { planAdd } from './scenario-add-plan.js';
import { type BlessOutcome, blessChoice, printAdd, printJudgement } from './scenario-add-report.js';
import { replayScenario, scenarioRunDir } from './scenario-replay.js';

export interface StoredForScenario extends StoredCapsule {
  source: 'export' | 'capsule';
  sha256: string;
  encrypted: boolean;
  redaction?: 'safe' | 'raw';
}

async function storeCapsule(plan: AddPlan, flags: ScenarioAddFlags, io: CliIO): Promise<StoredForScenario> {
  const src = plan.source;
  if (src.kind === 'capsule') {
    const stored = await storeExistingCapsule(plan.repo, plan.id, src.path);
    const sha256 = await sha256File(stored.path);
    const encrypted = /\.(age|enc)$/.test(stored.path);
    return { ...stored, source: 'capsule', sha256, encrypted };
  }
  if (!flags.json) io.stderr(`exporting the subject into ${relative(plan.repo, src.target)}…\n`);
  const result = await captureCapsule({
    manifest: plan.loaded.manifest,
    subject: src.subject,
    databaseUrl: src.databaseUrl,
    ...(src.databaseUrlEnv ? { databaseUrlEnv: src.databaseUrlEnv } : {}),
    out: src.target,
    redaction: flags.redaction,
    ...(src.encrypt ? { encrypt: src.encrypt } : {}),
    ...(flags.sinceDays ? { sinceDays: flags.sinceDays } : {}),
    env: io.env,
    ...(io.signal ? { signal: io.signal } : {}),
  });
  return {
    path: result.path,
    registryPath: registryPathOf(plan.repo, result.path),
    copied: true,
    source: 'export',
    sha256: result.sha256,
    encrypted: result.encrypted,
    redaction: result.redaction,
  };
}

function capsuleRef(stored: StoredForScenario, flags: ScenarioAddFlags): CapsuleRef {
  // An artifact is another copy of the capsule (uploaded by a workflow): no file pin.
  return flags.artifact ? { artifact: flags.artifact } : { path: stored.registryPath, sha256: stored.sha256 };
}

/** The entry as it will be registered, and as the judge sees it. */
function entryFor(plan: AddPlan, stored: StoredForScenario, flags: ScenarioAddFlags) {
  const golden = registryPathOf(plan.repo, dirname(plan.goldenPath));
  const entry = scenarioEntry(
    plan.draft,
    plan.probes,
    capsuleRef(stored, flags),
    `${golden}/${plan.id}.golden.json`,
  );
  return { entry, scenario: parseEntry(entry, plan.registry.path) };
}

/** Appends the entry to the registry as it is now (re-read: the replay took a while). */
function register(plan: AddPlan, entry: Record<string, unknown>): { created: boolean } {
  const registry = openRegistry(plan.registry.path);
  appendScenario(registry, entry);
  writeRegistry(registry);
  return { created: !registry.exists };
}

async function bless(
  plan: AddPlan,
  flags: ScenarioAddFlags,
  io: CliIO,
  run: { trace: Trace; tracePath: string; judgement: Judgement },
): Promise<BlessOutcome> {
  const choice = await blessChoice(flags, io, run, plan.id);
  if (!choice.bless) return { blessed: false, why: choice.why };
  const result = blessTrace({
    trace: run.trace,
    tracePath: run.tracePath,
    goldenDir: dirname(plan.goldenPath),
    scenario: plan.id,
    ci: io.env.CI === 'true',
  });
  return { blessed: true, notes: result.notes };
}

export async function addScenario(id: string, flags: ScenarioAddFlags, io: CliIO): Promise<void> {
  const plan = await planAdd(id, flags, io);
  const stored = await storeCapsule(plan, flags, io);
  const { trace, tracePath } = await replayScenario(io, {
    manifest: plan.loaded.manifest,
    manifestPath: plan.loaded.path,
    capsulePath: stored.path,
    capsuleOpen: plan.capsuleOpen,
    scenarioId: id,
    ...(plan.draft.subjectRewrite ? { rewrite: plan.draft.subjectRewrite } : {}),
    ...(flags.dbUrl ? { dbUrl: flags.dbUrl } : {}),
    ...(flags.allowRemote ? { allowRemote: true } : {}),
    ...(flags.createSchema ? { createSchema: true } : {}),
    ...(flags.replaceSchema ? { replaceSchema: true } : {}),
    quiet: Boolean(flags.json),
  });
  const { entry, scenario } = entryFor(plan, stored, flags);
  const judgement = judgeNewScenario({
    trace,
    tracePath,
    scenario,
    goldenPath: plan.goldenPath,
    manifestPath: plan.loaded.path,
    registryPath: plan.registry.path,
    cwd: plan.repo,
  });
  const judgementPath = join(plan.repo, scenarioRunDir(id), `${id}.judgement.json`);
  writeFileAtomic(judgementPath, `${JSON.stringify(judgement, null, 2)}\n`, 'judgement');
  const registered = { entry, ...register(plan, entry) };
  printJudgement(io, flags, { repo: plan.repo, trace, tracePath, judgement });
  const blessed = await bless(plan, flags, io, { trace, tracePath, judgement });
  printAdd(io, flags, { plan, stored, registered, trace, tracePath, judgement, judgementPath, blessed });
}
