/**
 * Duration: slower than the baseline (the golden, or the base branch) beyond the noise
 * (judge/timing.ts: absolute floor, learned spread, relative tolerance), or over the scenario's
 * time budget → warn. Never fails. The summary carries the numbers, so every output shows them.
 */
import { disabled, type JudgeInput, titleOf } from './context.js';
import { traceRecords } from './golden.js';
import { judgeConfig } from './loop.js';
import type { JudgeResult } from './schema.js';
import {
  compareTimings,
  DEFAULT_DURATION_TOLERANCE,
  DEFAULT_FLOOR_MS,
  DEFAULT_RUN_FLOOR_MS,
  DEFAULT_SPREAD_FACTOR,
  type TimingRow,
  type TimingRules,
  timingLine,
} from './timing.js';

export interface DurationOutcome {
  result: JudgeResult;
  slower: boolean;
  overBudget: boolean;
  /** Every compared duration with its numbers (empty without a baseline). */
  timing: TimingRow[];
}

function rulesFor(input: JudgeInput): TimingRules {
  const cfg = judgeConfig(input.config, 'duration');
  const options = cfg && cfg.id === 'duration' ? cfg.options : {};
  return {
    tolerance: input.manifest?.golden?.durationTolerance ?? options.tolerance ?? DEFAULT_DURATION_TOLERANCE,
    floorMs: options.floorMs ?? options.minSlowdownMs ?? DEFAULT_FLOOR_MS,
    runFloorMs: options.runFloorMs ?? DEFAULT_RUN_FLOOR_MS,
    spreadFactor: options.spreadFactor ?? DEFAULT_SPREAD_FACTOR,
  };
}

function summaryOf(timing: TimingRow[], against: string, overBudget: string | null): string {
  const slow = timing.filter((r) => r.slower);
  if (slow.length)
    return `slower than the ${against} beyond the noise: ${slow.map((r) => timingLine(r, against)).join('; ')}`;
  if (overBudget) return overBudget;
  const run = timing.find((r) => r.name === 'run');
  return run
    ? `within the ${against}'s durations: ${timingLine(run, against)}; ${timing.length - 1} probe(s) within their allowance`
    : 'within the time budget';
}

export function judgeDuration(input: JudgeInput): DurationOutcome {
  const id = 'duration';
  const off = disabled(input, id);
  if (off) return { result: off, slower: false, overBudget: false, timing: [] };
  const title = titleOf(input, id);
  const rules = rulesFor(input);
  const against = input.baselineLabel ?? 'golden';
  const golden = input.golden?.golden;
  const total = input.trace.durationMs;
  const timing = golden
    ? compareTimings(
        { totalMs: total, probes: traceRecords(input.trace).durations.probes },
        golden.durations,
        golden.durations.spread,
        rules,
      )
    : [];
  const evidence = timing.map((r) => `${r.slower ? 'slower: ' : ''}${timingLine(r, against)}`);
  if (golden)
    evidence.unshift(
      `allowed = ${against} + max(floor ${rules.floorMs} ms per probe / ${rules.runFloorMs} ms for the run, ${rules.spreadFactor} × learned spread, ${Math.round(rules.tolerance * 100)}%)${golden.durations.spread ? '' : ' (no learned spread: bless with --second-trace)'}`,
    );
  const budget = input.scenario?.maxDurationSeconds;
  const overBudget = budget !== undefined && total > budget * 1000;
  if (budget !== undefined) evidence.push(`budget ${budget} s (scenario ${input.scenario!.id})`);
  if (!golden && budget === undefined)
    return {
      result: {
        id,
        title,
        verdict: 'skip',
        summary: `no ${against} and no scenario budget to compare with`,
        evidence,
      },
      slower: false,
      overBudget: false,
      timing,
    };
  const budgetLine = overBudget
    ? `run took ${Math.round(total / 1000)} s, over the ${budget} s budget`
    : null;
  if (budgetLine) evidence.push(budgetLine);
  const slower = timing.some((r) => r.slower);
  return {
    result: {
      id,
      title,
      verdict: slower || overBudget ? 'warn' : 'pass',
      summary: summaryOf(timing, against, budgetLine),
      evidence,
    },
    slower,
    overBudget,
    timing,
  };
}
