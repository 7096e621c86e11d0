/**
 * Timing judged as timing: a duration is slower only when it exceeds its baseline by more than
 * the noise allows:
 *
 *   allowed = baseline + max(floorMs, spreadFactor × spread, tolerance × baseline)
 *
 *   floorMs       an absolute noise floor: 1000 ms for a probe, 5000 ms (runFloorMs) for the whole
 *                 run, whose materialize/app start/readiness wait vary by seconds on a shared
 *                 runner (20 identical runs of the example app here: 2.2 s to 6.0 s); no slowdown
 *                 below it is reported
 *   spread        learned: how far two runs of the same build on the same capsule differed (the
 *                 golden's two blessed traces, or the base branch run twice); unknown with one run
 *   tolerance     the relative allowance (manifest golden.durationTolerance, judges.yaml; default 0.5)
 *
 * Every compared duration becomes a row with its numbers, shown in every output format.
 */

export const DEFAULT_FLOOR_MS = 1000;
export const DEFAULT_RUN_FLOOR_MS = 5000;
export const DEFAULT_SPREAD_FACTOR = 3;
export const DEFAULT_DURATION_TOLERANCE = 0.5;

export interface TimingRules {
  /** Probes' noise floor. */
  floorMs: number;
  /** The whole run's noise floor. */
  runFloorMs: number;
  spreadFactor: number;
  tolerance: number;
}

export interface DurationSet {
  totalMs: number;
  probes: Record<string, number>;
}

export interface TimingRow {
  /** "run" or "probe <name>". */
  name: string;
  actualMs: number;
  baselineMs: number;
  /** Learned spread (absent when the baseline is a single run). */
  spreadMs?: number;
  allowedMs: number;
  slower: boolean;
}

/** How far two runs of one build differed, per duration. */
export function learnSpread(a: DurationSet, b: DurationSet): DurationSet {
  const probes: Record<string, number> = {};
  for (const [name, ms] of Object.entries(a.probes)) {
    const other = b.probes[name];
    if (other !== undefined) probes[name] = Math.abs(ms - other);
  }
  return { totalMs: Math.abs(a.totalMs - b.totalMs), probes };
}

function allowedMs(
  baseline: number,
  spread: number | undefined,
  rules: TimingRules,
  floorMs: number,
): number {
  return baseline + Math.max(floorMs, rules.spreadFactor * (spread ?? 0), rules.tolerance * baseline);
}

function row(name: string, actual: number, baseline: number, spread: number | undefined, rules: TimingRules) {
  const allowed = allowedMs(baseline, spread, rules, name === 'run' ? rules.runFloorMs : rules.floorMs);
  const r: TimingRow = {
    name,
    actualMs: Math.round(actual),
    baselineMs: Math.round(baseline),
    allowedMs: Math.round(allowed),
    slower: actual > allowed,
  };
  if (spread !== undefined) r.spreadMs = Math.round(spread);
  return r;
}

/** The run's and every shared probe's duration against the baseline. */
export function compareTimings(
  actual: DurationSet,
  baseline: DurationSet,
  spread: DurationSet | undefined,
  rules: TimingRules,
): TimingRow[] {
  const rows = [row('run', actual.totalMs, baseline.totalMs, spread?.totalMs, rules)];
  for (const name of Object.keys(baseline.probes).sort()) {
    const ms = actual.probes[name];
    if (ms !== undefined)
      rows.push(row(`probe ${name}`, ms, baseline.probes[name]!, spread?.probes[name], rules));
  }
  return rows;
}

/** "run 1196 ms vs 797 ms ±80 (allowed ≤ 1797 ms)". */
export function timingLine(r: TimingRow, against: string): string {
  const spread = r.spreadMs !== undefined ? ` ±${r.spreadMs}` : '';
  return `${r.name} ${r.actualMs} ms vs ${against} ${r.baselineMs} ms${spread} (allowed ≤ ${r.allowedMs} ms)`;
}
