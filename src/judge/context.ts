/** What every judge receives. Judges are pure: no printing, no environment, no network. */
import type { Manifest } from '../manifest/schema.js';
import type { Trace } from '../trace/schema.js';
import type { Fingerprint } from './diff.js';
import type { LoadedGolden } from './golden.js';
import { type JudgeId, type JudgesConfig, judgeConfig, type Scenario } from './loop.js';
import type { JudgeResult } from './schema.js';

export interface JudgeInput {
  trace: Trace;
  /** Absolute path of the trace file (screenshots are relative to it). */
  tracePath?: string;
  golden?: LoadedGolden | null;
  /** Where the golden was looked for (shown when it is missing). */
  goldenPath?: string;
  manifest?: Manifest;
  scenario?: Scenario;
  /** judges.yaml (titles, enabled, options); absent: every judge enabled, default titles and options. */
  config?: JudgesConfig;
  /** What the golden stands for in summaries: "golden" (default) or "base branch". */
  baselineLabel?: string;
  /** Public descriptions of data values (diff.ts fingerprinter(); default: a random key). */
  fingerprint?: Fingerprint;
}

const DEFAULT_TITLES: Record<JudgeId, string> = {
  'capsule-integrity': 'Capsule integrity',
  'materialization-integrity': 'Materialization integrity',
  'no-external-side-effects': 'No external side effects',
  'golden-match': 'Golden match',
  duration: 'Duration',
  'database-state': 'Database state',
};

export function titleOf(input: JudgeInput, id: JudgeId): string {
  return judgeConfig(input.config, id)?.title ?? DEFAULT_TITLES[id];
}

/** A skip result when judges.yaml disables the judge or the scenario does not list it. */
export function disabled(input: JudgeInput, id: JudgeId): JudgeResult | null {
  const cfg = judgeConfig(input.config, id);
  if (cfg && !cfg.enabled)
    return {
      id,
      title: titleOf(input, id),
      verdict: 'skip',
      summary: 'disabled in judges.yaml',
      evidence: [],
    };
  if (input.scenario?.judges && !input.scenario.judges.includes(id))
    return {
      id,
      title: titleOf(input, id),
      verdict: 'skip',
      summary: `not applied by scenario ${input.scenario.id}`,
      evidence: [],
    };
  return null;
}

export function clip(s: string, max = 200): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}
