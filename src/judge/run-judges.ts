/**
 * runJudges: run the deterministic judges on a trace against its baseline (a blessed golden, or
 * the base branch's traces) and collect everything a judgement reports except the gate's part:
 * verdicts, differences, timing, failing steps, annotations, evidence, and the judges' findings
 * the gate's facts are computed from. Pure: reads screenshot files only.
 *
 * The gate (gate/judge-trace.ts) turns a JudgeRun into facts, applies the policy and returns the
 * Judgement; judge/ never imports gate/.
 */
import { dirname, isAbsolute, relative } from 'node:path';
import type { Manifest } from '../manifest/schema.js';
import type { Trace } from '../trace/schema.js';
import { goldenAnnotations, manifestAnnotations } from './annotations.js';
import { scenarioPinProblem, short } from './capsule-binding.js';
import { judgeCapsuleIntegrity } from './capsule-integrity.js';
import type { JudgeInput } from './context.js';
import { type DbStateJudgement, judgeDatabaseState } from './db-state.js';
import { fingerprinter } from './diff.js';
import { judgeDuration } from './duration.js';
import { failingSteps } from './failures.js';
import type { Golden, LoadedGolden } from './golden.js';
import { judgeGoldenMatch } from './golden-match.js';
import type { JudgesConfig, Scenario } from './loop.js';
import { judgeMaterializationIntegrity } from './materialization-integrity.js';
import { judgeNoExternalSideEffects } from './no-external-side-effects.js';
import type { Baseline, Judgement } from './schema.js';

export interface JudgeRunOptions {
  trace: Trace;
  /** The trace file (screenshots are relative to it; shown in the judgement). */
  tracePath?: string;
  /** The golden (as loaded by readGolden, or a bare document with goldenPath); null/absent: none. */
  golden?: LoadedGolden | Golden | null;
  /** Where the golden is (or was looked for). */
  goldenPath?: string;
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

/** What the judges found: the judgement's judge-side fields, and the findings facts are made of. */
export interface JudgeRun {
  golden: LoadedGolden | null;
  judges: Judgement['judges'];
  differences: Judgement['differences'];
  timing: Judgement['timing'];
  baseline: Baseline;
  failures: Judgement['failures'];
  annotations: Judgement['annotations'];
  evidence: string[];
  /** The run or a probe is slower than the baseline beyond the tolerance. */
  slowerThanGolden: boolean;
  /** The run took longer than the scenario's maxDurationSeconds. */
  overTimeBudget: boolean;
  /** The golden judged another capsule (judge/capsule-binding.ts): it was not compared. */
  goldenCapsuleDiffers: boolean;
  /** The scenario pins a capsule and the trace replayed another. */
  scenarioCapsuleMismatch: boolean;
  /** What the database-state judge found (its verdict is in `judges`). */
  database: Omit<DbStateJudgement, 'result'>;
}

function describeBaseline(opts: JudgeRunOptions, golden: LoadedGolden | null): Baseline {
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

export function runJudges(opts: JudgeRunOptions): JudgeRun {
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
  const { result: databaseResult, ...database } = judgeDatabaseState(input, {
    capsuleDiffers: goldenMatch.capsuleDiffers === true,
  });
  const judges = [
    judgeCapsuleIntegrity(input),
    judgeMaterializationIntegrity(input),
    judgeNoExternalSideEffects(input),
    goldenMatch.result,
    duration.result,
    databaseResult,
  ];
  const base = opts.evidenceBase ?? (opts.tracePath ? dirname(opts.tracePath) : undefined);
  const evidence = [
    ...opts.trace.artifacts.map((a) => a.path),
    ...goldenMatch.evidenceFiles.map((f) => (base ? relative(base, f) : f)),
  ];
  const failures = failingSteps(opts.trace, opts.manifest);
  return {
    golden,
    judges,
    differences: goldenMatch.differences,
    timing: duration.timing,
    baseline: describeBaseline(opts, golden),
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
    slowerThanGolden: duration.slower,
    overTimeBudget: duration.overBudget,
    goldenCapsuleDiffers: goldenMatch.capsuleDiffers === true,
    scenarioCapsuleMismatch: pinProblem !== null,
    database,
  };
}
