/**
 * Blessing: promoting a good trace to the golden of its app/scenario.
 *
 * With a second trace of the same build, every path that differs between the two (after the
 * built-in normalisers) is learned noise (Diffy-style): it is recorded in the golden and never
 * judged. Array indices are generalised (`items[*].score`). Re-blessing keeps the noise the previous
 * golden learned (delete the golden file to forget it).
 *
 * Refuses a trace whose own gate is block, and refuses to write in CI unless forced: goldens
 * change through review, not silently in CI.
 */
import { FailureError, InputError } from '../errors.js';
import type { Trace } from '../trace/schema.js';
import { sameCapsule, short } from './capsule-binding.js';
import { compareRecords } from './compare.js';
import { databaseNoise } from './db-records.js';
import { emptyRules } from './diff.js';
import {
  buildGolden,
  findGolden,
  type Golden,
  normaliseProbes,
  traceRecords,
  writeGolden,
} from './golden.js';
import { checkScenarioId } from './golden-paths.js';
import { generalisePath } from './paths.js';

export interface BlessInput {
  trace: Trace;
  tracePath?: string;
  secondTrace?: Trace;
  secondTracePath?: string;
  goldenDir: string;
  scenario?: string;
  /** True when running in CI (the caller reads CI=true from its environment). */
  ci: boolean;
  force?: boolean;
  now?: Date;
}

export interface BlessResult {
  path: string;
  golden: Golden;
  /** Noise paths learned from the second trace in this bless. */
  learned: string[];
  /** Noise kept from the previous golden. */
  kept: string[];
  replaced: boolean;
  notes: string[];
}

/**
 * Every path that differs between two traces of one build (generalised, sorted, distinct).
 * Outcomes (ok, status, exit code) are never learned as noise: a probe whose outcome differs
 * between two runs of one build is reported as flaky instead.
 */
export function learnNoise(a: Trace, b: Trace): { noise: string[]; flaky: string[] } {
  const ra = traceRecords(a);
  const rb = traceRecords(b);
  const diffs = compareRecords(
    { probes: normaliseProbes(ra.probes), commands: ra.commands },
    { probes: normaliseProbes(rb.probes), commands: rb.commands },
    emptyRules(),
  );
  const outcome = new Set(['ok', 'status', 'exitCode', 'kind']);
  const isOutcome = (segs: readonly unknown[]) => segs.length === 3 && outcome.has(String(segs[2]));
  const noise = diffs
    .filter((d) => d.segments.length > 2 && !isOutcome(d.segments))
    .map((d) => generalisePath(d.segments));
  const flaky = diffs
    .filter((d) => d.segments.length <= 2 || isOutcome(d.segments))
    .map((d) => generalisePath(d.segments));
  noise.push(...databaseNoise(a, b));
  return { noise: [...new Set(noise)].sort(), flaky: [...new Set(flaky)].sort() };
}

/** A note when a re-bless moves the golden to another capsule (the usual step after a re-export). */
function capsuleChange(previous: Golden, next: Golden): string | null {
  const a = previous.provenance.capsule;
  const b = next.provenance.capsule;
  if (!b) return null;
  if (a && sameCapsule(a, b)) return null;
  const from = a?.sha256 ?? previous.provenance.capsuleSha256;
  return `re-bound to capsule ${short(b.sha256)}${b.exportedAt ? ` (exported ${b.exportedAt})` : ''}${from ? `, was ${short(from)}` : ''}; a scenario that pins the capsule needs capsuleSha256: ${b.sha256}`;
}

function refuseBlocked(trace: Trace, label: string): void {
  if (trace.gate.decision === 'block') {
    throw new FailureError(
      `${label}: refusing to bless a trace whose own gate is block (${trace.gate.reasons.join('; ') || 'no reason recorded'}); fix the run first`,
    );
  }
}

export function blessTrace(input: BlessInput): BlessResult {
  const label = input.tracePath ?? 'trace';
  if (input.ci && !input.force) {
    throw new InputError(
      'bless: refusing to write a golden in CI (CI=true): goldens change through review; bless locally and commit the file, or pass --force',
    );
  }
  refuseBlocked(input.trace, label);
  checkScenarioId(input.scenario, '--scenario');
  const scenario = input.scenario ?? input.trace.scenario;
  let learned: string[] = [];
  const flakyNotes: string[] = [];
  if (input.secondTrace) {
    const second = input.secondTrace;
    const label2 = input.secondTracePath ?? 'second trace';
    refuseBlocked(second, label2);
    if (second.app !== input.trace.app)
      throw new InputError(`${label2}: is for app ${second.app}, but ${label} is for app ${input.trace.app}`);
    if ((second.scenario ?? scenario) !== scenario)
      throw new InputError(`${label2}: is for scenario ${second.scenario}, not ${scenario}`);
    const c1 = input.trace.environment.gitCommit;
    const c2 = second.environment.gitCommit;
    if (c1 && c2 && c1 !== c2)
      throw new InputError(
        `${label2}: comes from commit ${c2}, ${label} from ${c1}; noise is learned from two runs of the SAME build`,
      );
    const probes1 = Object.keys(traceRecords(input.trace).probes).sort().join(',');
    const probes2 = Object.keys(traceRecords(second).probes).sort().join(',');
    if (probes1 !== probes2)
      throw new InputError(`${label2}: ran different probes (${probes2}) than ${label} (${probes1})`);
    const lesson = learnNoise(input.trace, second);
    learned = lesson.noise;
    for (const f of lesson.flaky)
      flakyNotes.push(`${f} differs between the two traces (an outcome, not noise): the probe looks flaky`);
  }
  const previous = findGolden(input.goldenDir, scenario);
  const kept = previous ? previous.golden.noise.filter((p) => !learned.includes(p)) : [];
  const built = buildGolden({
    trace: input.trace,
    tracePath: input.tracePath,
    scenario,
    noise: [...learned, ...kept],
    secondTracePath: input.secondTracePath,
    ...(input.secondTrace ? { secondDurations: traceRecords(input.secondTrace).durations } : {}),
    now: input.now,
  });
  const { path, notes } = writeGolden(input.goldenDir, built, input.tracePath);
  const rebound = previous ? capsuleChange(previous.golden, built.golden) : null;
  if (rebound) notes.unshift(rebound);
  return {
    path,
    golden: built.golden,
    learned,
    kept,
    replaced: previous !== null,
    notes: [...flakyNotes, ...notes],
  };
}
