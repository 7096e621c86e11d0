/**
 * judgeTrace: run the deterministic judges on a trace, compute the facts, apply the gate policy,
 * and return a Judgement (validated by judgementSchema). Pure: reads screenshot files only.
 */
import { dirname, isAbsolute, relative } from 'node:path';
import { computeFacts } from '../gate/compute-facts.js';
import { evaluatePolicy, type GatePolicy } from '../gate/policy.js';
import type { Manifest } from '../manifest/schema.js';
import type { Trace } from '../trace/schema.js';
import { goldenAnnotations, manifestAnnotations } from './annotations.js';
import { scenarioPinProblem, short } from './capsule-binding.js';
import { judgeCapsuleIntegrity } from './capsule-integrity.js';
import type { JudgeInput } from './context.js';
import { fingerprinter } from './diff.js';
import { judgeDuration } from './duration.js';
import { failingSteps } from './failures.js';
import type { Golden, LoadedGolden } from './golden.js';
import { judgeGoldenMatch } from './golden-match.js';
import type { JudgesConfig, Scenario } from './loop.js';
import { judgeMaterializationIntegrity } from './materialization-integrity.js';
import { judgeNoExternalSideEffects } from './no-external-side-effects.js';
import { type Baseline, JUDGEMENT_SCHEMA_VERSION, type Judgement, judgementSchema } from './schema.js';

export interface JudgeTraceOptions {
  trace: Trace;
  /** The trace file (screenshots are relative to it; shown in the judgement). */
  tracePath?: string;
  traceSha256?: string;
  /** The golden (as loaded by readGolden, or a bare document with goldenPath); null/absent: none. */
  golden?: LoadedGolden | Golden | null;
  /** Where the golden is (or was looked for). */
  goldenPath?: string;
  policy: GatePolicy;
  /** Shown in the judgement; default policy.path. */
  policyPath?: string;
  manifest?: Manifest;
  /** The manifest file (path and text): failing steps become annotations on its lines. */
  manifestFile?: { path: string; text: string };
  scenario?: Scenario;
  /** judges.yaml; absent: every judge enabled with default options. */
  judges?: JudgesConfig;
  /**
   * The repository root: when given and the golden lies inside it, failing/warning differences
   * become annotations on the golden file (at the probe's line).
   */
  repoRoot?: string;
  /** Evidence file paths are made relative to this directory (default: the trace's directory). */
  evidenceBase?: string;
  now?: Date;
  /**
   * Key of the public value fingerprints (diff.ts). Default: random per judgement, never stored,
   * so fingerprints cannot be reversed by guessing. Tests pass one for stable output.
   */
  fingerprintKey?: Uint8Array;
  /**
   * What `golden` is: a blessed golden file (default), or the base branch's traces of the same
   * capsule turned into an in-memory golden (judge/base-branch.ts).
   */
  baselineMode?: 'golden' | 'base-branch';
  /** Evidence about the baseline (base-branch: learned noise, flaky outcomes). */
  baselineNotes?: string[];
}

function describeBaseline(opts: JudgeTraceOptions, golden: LoadedGolden | null): Baseline {
  if (!golden) return { mode: 'none', description: 'no golden and no base-branch run to compare with' };
  const sha = golden.golden.provenance.capsule?.sha256 ?? golden.golden.provenance.capsuleSha256 ?? undefined;
  if (opts.baselineMode === 'base-branch')
    return {
      mode: 'base-branch',
      description: `against the base branch${sha ? ` on capsule ${short(sha)}` : ''}`,
      ...(sha ? { capsuleSha256: sha } : {}),
    };
  const rel = opts.repoRoot ? relative(opts.repoRoot, golden.path) : '';
  const shown = rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : golden.path;
  return {
    mode: 'golden',
    description: `against golden ${shown}${sha ? ` (capsule ${short(sha)})` : ''}`,
    ...(sha ? { capsuleSha256: sha } : {}),
  };
}

function asLoaded(g: LoadedGolden | Golden | null | undefined, path?: string): LoadedGolden | null {
  if (!g) return null;
  if ('golden' in g && 'path' in g) return g;
  return { golden: g as Golden, path: path ?? '(golden)' };
}

export function judgeTrace(opts: JudgeTraceOptions): Judgement {
  const golden = asLoaded(opts.golden, opts.goldenPath);
  const input: JudgeInput = {
    trace: opts.trace,
    tracePath: opts.tracePath,
    golden,
    goldenPath: opts.goldenPath,
    manifest: opts.manifest,
    scenario: opts.scenario,
    config: opts.judges,
    fingerprint: fingerprinter(opts.fingerprintKey),
    ...(opts.baselineMode === 'base-branch' ? { baselineLabel: 'base branch' } : {}),
  };
  const goldenMatch = judgeGoldenMatch(input);
  // Durations of another capsule's run say nothing about this change either.
  const duration = judgeDuration(goldenMatch.capsuleDiffers ? { ...input, golden: null } : input);
  const pinProblem = scenarioPinProblem(opts.scenario?.capsuleSha256, opts.scenario?.id, opts.trace);
  if (pinProblem) goldenMatch.result.evidence.unshift(pinProblem);
  goldenMatch.result.evidence.push(...(opts.baselineNotes ?? []));
  const judges = [
    judgeCapsuleIntegrity(input),
    judgeMaterializationIntegrity(input),
    judgeNoExternalSideEffects(input),
    goldenMatch.result,
    duration.result,
  ];
  const facts = computeFacts({
    trace: opts.trace,
    judges,
    differences: goldenMatch.differences,
    scenario: opts.scenario,
    goldenPresent: golden !== null,
    slowerThanGolden: duration.slower,
    goldenCapsuleDiffers: goldenMatch.capsuleDiffers === true,
    scenarioCapsuleMismatch: pinProblem !== null,
    overTimeBudget: duration.overBudget,
  });
  const outcome = evaluatePolicy(opts.policy, facts);
  const base = opts.evidenceBase ?? (opts.tracePath ? dirname(opts.tracePath) : undefined);
  const evidence = [
    ...opts.trace.artifacts.map((a) => a.path),
    ...goldenMatch.evidenceFiles.map((f) => (base ? relative(base, f) : f)),
  ];
  const failures = failingSteps(opts.trace, opts.manifest);
  const judgement: Judgement = {
    schemaVersion: JUDGEMENT_SCHEMA_VERSION,
    kind: 'replay-env.judgement',
    app: opts.trace.app,
    scenario: opts.scenario?.id ?? opts.trace.scenario,
    createdAt: (opts.now ?? new Date()).toISOString(),
    decision: outcome.decision,
    reasons: outcome.reasons,
    humanReview: outcome.humanReview,
    judges,
    differences: goldenMatch.differences,
    timing: duration.timing,
    baseline: describeBaseline(opts, golden),
    facts,
    trace: {
      ...(opts.tracePath ? { path: opts.tracePath } : {}),
      ...(opts.traceSha256 ? { sha256: opts.traceSha256 } : {}),
    },
    golden: golden ? { path: golden.path } : null,
    policy: {
      path: opts.policyPath ?? opts.policy.path,
      ...(opts.policy.name ? { name: opts.policy.name } : {}),
    },
    failures,
    annotations: [
      ...(golden && opts.repoRoot && opts.baselineMode !== 'base-branch'
        ? goldenAnnotations(golden, goldenMatch.differences, opts.repoRoot)
        : []),
      ...(opts.manifestFile && opts.repoRoot
        ? manifestAnnotations(failures, opts.manifestFile, opts.repoRoot)
        : []),
    ],
    evidence: [...new Set(evidence)],
  };
  return judgementSchema.parse(judgement);
}
