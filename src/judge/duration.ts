/**
 * Duration: slower than the golden beyond the tolerance (default 50%, manifest
 * golden.durationTolerance), or over the scenario's time budget → warn. Never fails.
 */
import { disabled, type JudgeInput, titleOf } from './context.js';
import { traceRecords } from './golden.js';
import { judgeConfig } from './loop.js';
import type { JudgeResult } from './schema.js';

export const DEFAULT_DURATION_TOLERANCE = 0.5;
export const DEFAULT_MIN_SLOWDOWN_MS = 250;

export interface DurationOutcome {
  result: JudgeResult;
  slower: boolean;
  overBudget: boolean;
}

export function judgeDuration(input: JudgeInput): DurationOutcome {
  const id = 'duration';
  const off = disabled(input, id);
  if (off) return { result: off, slower: false, overBudget: false };
  const title = titleOf(input, id);
  const cfg = judgeConfig(input.config, id);
  const options = cfg && cfg.id === 'duration' ? cfg.options : {};
  const tolerance =
    input.manifest?.golden?.durationTolerance ?? options.tolerance ?? DEFAULT_DURATION_TOLERANCE;
  const minSlowdown = options.minSlowdownMs ?? DEFAULT_MIN_SLOWDOWN_MS;
  const evidence: string[] = [];
  const slowLines: string[] = [];
  const golden = input.golden?.golden;
  const total = input.trace.durationMs;
  const slower = (actual: number, base: number) =>
    actual > base * (1 + tolerance) && actual - base >= minSlowdown;
  if (golden) {
    evidence.push(
      `total ${Math.round(total)} ms, golden ${Math.round(golden.durations.totalMs)} ms (tolerance ${Math.round(tolerance * 100)}%)`,
    );
    if (slower(total, golden.durations.totalMs))
      slowLines.push(`run: ${Math.round(total)} ms vs golden ${Math.round(golden.durations.totalMs)} ms`);
    const actual = traceRecords(input.trace).durations.probes;
    for (const [probe, base] of Object.entries(golden.durations.probes).sort()) {
      const ms = actual[probe];
      if (ms !== undefined && slower(ms, base))
        slowLines.push(`probe ${probe}: ${Math.round(ms)} ms vs golden ${Math.round(base)} ms`);
    }
  }
  const budget = input.scenario?.maxDurationSeconds;
  const overBudget = budget !== undefined && total > budget * 1000;
  if (budget !== undefined) evidence.push(`budget ${budget} s (scenario ${input.scenario!.id})`);
  if (!golden && budget === undefined)
    return {
      result: {
        id,
        title,
        verdict: 'skip',
        summary: 'no golden and no scenario budget to compare with',
        evidence,
      },
      slower: false,
      overBudget: false,
    };
  const problems = [...slowLines];
  if (overBudget) problems.push(`run took ${Math.round(total / 1000)} s, over the ${budget} s budget`);
  if (problems.length)
    return {
      result: {
        id,
        title,
        verdict: 'warn',
        summary: slowLines.length ? 'slower than the golden beyond the tolerance' : 'over the time budget',
        evidence: [...evidence, ...problems],
      },
      slower: slowLines.length > 0,
      overBudget,
    };
  return {
    result: {
      id,
      title,
      verdict: 'pass',
      summary: 'within the golden durations and the time budget',
      evidence,
    },
    slower: false,
    overBudget: false,
  };
}
