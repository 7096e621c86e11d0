/**
 * Base-vs-head: the pull request's base commit, replayed on the same capsule, is the baseline
 * (Chromatic/Argos-style baselines tied to the base branch; Diffy's primary/secondary/candidate).
 * The base side's trace becomes an in-memory golden; with a second base trace, the paths that
 * differ between the two base runs are learned noise and their durations give the timing spread —
 * exactly what `bless --second-trace` learns. Head is then judged with the same judges, rules and
 * risk classes as against a golden. Nothing is written.
 */
import { basename } from 'node:path';
import { InputError } from '../errors.js';
import { learnNoise } from './bless.js';
import { capsuleIdentity, sameCapsule, short } from './capsule-binding.js';
import { buildGolden, type LoadedGolden, traceRecords } from './golden.js';
import type { LoadedTrace } from './trace-file.js';

export interface BaseBranchBaseline {
  golden: LoadedGolden;
  /** Evidence lines: learned noise, flaky outcomes, a base run that blocked. */
  notes: string[];
}

function checkPair(first: LoadedTrace, second: LoadedTrace): void {
  const a = first.trace;
  const b = second.trace;
  if (a.app !== b.app)
    throw new InputError(`${second.path}: is for app ${b.app}, but ${first.path} is for app ${a.app}`);
  const ia = capsuleIdentity(a);
  const ib = capsuleIdentity(b);
  if (!ia || !ib || !sameCapsule(ia, ib))
    throw new InputError(
      `${second.path}: replayed capsule ${ib ? short(ib.sha256) : '(none)'}, ${first.path} replayed ${ia ? short(ia.sha256) : '(none)'}: the two base runs must replay the same capsule`,
    );
  const c1 = a.environment.gitCommit;
  const c2 = b.environment.gitCommit;
  if (c1 && c2 && c1 !== c2)
    throw new InputError(
      `${second.path}: comes from commit ${c2}, ${first.path} from ${c1}: both base runs must be of one commit`,
    );
}

/** The base branch's trace(s) as a golden (not written anywhere). */
export function baseBranchBaseline(base: LoadedTrace[]): BaseBranchBaseline {
  if (base.length < 1 || base.length > 2)
    throw new InputError(`--baseline-trace: give the base branch's trace once or twice, got ${base.length}`);
  const [first, second] = base as [LoadedTrace, LoadedTrace | undefined];
  const notes: string[] = [];
  let noise: string[] = [];
  if (second) {
    checkPair(first, second);
    const lesson = learnNoise(first.trace, second.trace);
    noise = lesson.noise;
    notes.push(
      `base branch run twice: ${noise.length} noise path(s) learned${noise.length ? ` (${noise.join(', ')})` : ''}`,
    );
    for (const f of lesson.flaky)
      notes.push(`note: ${f} differs between the two base runs (flaky on the base branch too)`);
  } else notes.push('base branch run once: no noise or timing spread learned (run it twice)');
  for (const t of base)
    if (t.trace.gate.decision === 'block')
      notes.push(
        `note: the base run ${basename(t.path)} blocked by itself (${t.trace.gate.reasons.join('; ')})`,
      );
  const built = buildGolden({
    trace: first.trace,
    tracePath: first.path,
    noise,
    ...(second
      ? { secondTracePath: second.path, secondDurations: traceRecords(second.trace).durations }
      : {}),
  });
  return { golden: { golden: built.golden, path: `base-branch trace ${first.path}` }, notes };
}
