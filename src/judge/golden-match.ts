/**
 * Golden match: the trace's probe results against the golden's, after noise rules.
 *   fail: a probe that passed fails, a status/exit code, removed field, type or value differs
 *         (values at manifest golden.tolerate paths only warn), a new console error;
 *   warn: only new fields/probes, tolerated value changes, command output, screenshots beyond the
 *         pixel threshold;
 *   skip: no golden yet (not a failure: bless one).
 */
import { compareCapsuleWithGolden } from './capsule-binding.js';
import { compareRecords } from './compare.js';
import { disabled, type JudgeInput, titleOf } from './context.js';
import { type DiffRules, type Fingerprint, fingerprinter, outcome, type RawDifference } from './diff.js';
import { normaliseProbes, traceRecords } from './golden.js';
import { goldenScreenshot, traceScreenshot } from './golden-paths.js';
import { judgeConfig } from './loop.js';
import { formatJsonPath, PathRules, type Segment } from './paths.js';
import type { Difference, JudgeResult } from './schema.js';
import { compareScreenshots } from './screenshot.js';

export const DEFAULT_SCREENSHOT_THRESHOLD = 0.01;

export interface GoldenMatchOutcome {
  result: JudgeResult;
  differences: Difference[];
  /** Screenshot files worth linking (golden and actual), absolute. */
  evidenceFiles: string[];
  /** The trace replayed another capsule than the golden's: nothing was compared. */
  capsuleDiffers?: boolean;
}

/** The one command that re-blesses after a re-export (docs/judge.md "Re-blessing"). */
export function reblessCommand(input: JudgeInput): string {
  const scenario = input.scenario?.id ?? input.trace.scenario;
  return `replay-env bless --trace NEW.trace.json --second-trace NEW-2.trace.json${scenario ? ` --scenario ${scenario}` : ''}`;
}

/** A raw difference as shown in judgements: probe name + path inside the probe's record. */
export function toDifference(d: RawDifference, fingerprint?: Fingerprint): Difference {
  const [root, name, ...rest] = d.segments;
  const probe = root === 'commands' ? `command:${String(name)}` : String(name);
  const out: Difference = { probe, path: formatJsonPath(rest), change: d.change, risk: d.risk };
  const publicPath = fingerprint ? publicJsonPath(rest, fingerprint) : undefined;
  if (publicPath !== undefined && publicPath !== out.path) out.pathPublic = publicPath;
  if (d.golden !== undefined) out.golden = d.golden;
  if (d.actual !== undefined) out.actual = d.actual;
  if (d.goldenPublic !== undefined) out.goldenPublic = d.goldenPublic;
  if (d.actualPublic !== undefined) out.actualPublic = d.actualPublic;
  return out;
}

/**
 * Object keys of a probe's response are data too (an email or an id used as a key): keys that do
 * not look like a field name are shown as a keyed fingerprint, like values.
 */
const FIELD_NAME = /^[A-Za-z_$][A-Za-z0-9_$-]{0,63}$/;
export function publicJsonPath(segments: readonly Segment[], fingerprint: Fingerprint): string {
  return formatJsonPath(
    segments.map((s) =>
      typeof s === 'number' || FIELD_NAME.test(s) ? s : fingerprint(s).replace(/^string/, 'key'),
    ),
  );
}

export function diffRulesFor(input: JudgeInput, noise: string[] = []): DiffRules {
  const g = input.manifest?.golden;
  return {
    ignore: new PathRules([...(g?.ignore ?? []), ...noise]),
    tolerate: new PathRules(g?.tolerate ?? []),
    unordered: new PathRules(g?.unorderedArrays ?? []),
  };
}

export function judgeGoldenMatch(input: JudgeInput): GoldenMatchOutcome {
  const id = 'golden-match';
  const title = titleOf(input, id);
  const off = disabled(input, id);
  if (off) return { result: off, differences: [], evidenceFiles: [] };
  const loaded = input.golden;
  if (!loaded) {
    const where = input.goldenPath ? ` at ${input.goldenPath}` : '';
    return {
      result: {
        id,
        title,
        verdict: 'skip',
        summary: `no golden trace${where}; run \`replay-env bless\` on a good run to create one`,
        evidence: [],
      },
      differences: [],
      evidenceFiles: [],
    };
  }
  const { golden } = loaded;
  const evidence = [
    input.baselineLabel
      ? `${loaded.path}${golden.provenance.gitCommit ? ` at ${golden.provenance.gitCommit.slice(0, 12)}` : ''}`
      : `golden ${loaded.path} (blessed ${golden.provenance.createdAt}${
          golden.provenance.gitCommit ? ` at ${golden.provenance.gitCommit.slice(0, 12)}` : ''
        })`,
  ];
  if (golden.app !== input.trace.app) {
    return {
      result: {
        id,
        title,
        verdict: 'fail',
        summary: `the golden is for app ${golden.app}, the trace for ${input.trace.app}`,
        evidence,
      },
      differences: [],
      evidenceFiles: [],
    };
  }
  const capsule = compareCapsuleWithGolden(
    golden,
    input.trace,
    reblessCommand(input),
    input.baselineLabel ?? 'golden',
  );
  if (capsule.kind === 'differs')
    return {
      result: {
        id,
        title,
        verdict: 'warn',
        summary: capsule.summary,
        evidence: [...evidence, ...capsule.evidence],
      },
      differences: [],
      evidenceFiles: [],
      capsuleDiffers: true,
    };
  if (capsule.kind === 'unbound' && capsule.note) evidence.push(capsule.note);
  const rec = traceRecords(input.trace);
  const actual = { probes: normaliseProbes(rec.probes), commands: rec.commands };
  const rules = diffRulesFor(input, golden.noise);
  const fp = input.fingerprint ?? fingerprinter();
  const raw = compareRecords(golden, actual, rules, fp);
  const evidenceFiles: string[] = [];
  const cfg = judgeConfig(input.config, id);
  const threshold =
    (cfg && cfg.id === 'golden-match' ? cfg.options.screenshotThreshold : undefined) ??
    DEFAULT_SCREENSHOT_THRESHOLD;
  for (const [name, g] of Object.entries(golden.probes).sort(([x], [y]) => (x < y ? -1 : 1))) {
    if (!g.screenshot || !actual.probes[name] || rules.ignore.covers(['probes', name, 'screenshot']))
      continue;
    // Both paths come from untrusted files: each stays inside its own directory (golden-paths.ts).
    const goldenFile = goldenScreenshot(loaded.path, name, g.screenshot);
    const shot = rec.screenshots[name];
    const actualFile = shot ? traceScreenshot(input.tracePath, name, shot) : undefined;
    if (!goldenFile) {
      evidence.push(`note: golden screenshot of ${name} is missing (${g.screenshot})`);
      continue;
    }
    if (!actualFile) {
      evidence.push(`note: no screenshot of ${name} in this run${shot ? ` (${shot} missing)` : ''}`);
      continue;
    }
    evidenceFiles.push(goldenFile, actualFile);
    const cmp = compareScreenshots(goldenFile, actualFile);
    if (!cmp.ok) {
      evidence.push(`note: ${cmp.error}`);
      continue;
    }
    const pct = (cmp.ratio * 100).toFixed(2);
    if (cmp.ratio > threshold)
      raw.push(
        outcome({
          segments: ['probes', name, 'screenshot'],
          change: 'pixels',
          risk: 'warn',
          golden: g.screenshot,
          actual: cmp.sizeChanged ? `size changed (${cmp.width}×${cmp.height})` : `${pct}% pixels differ`,
        }),
      );
    else
      evidence.push(`screenshot ${name}: ${pct}% pixels differ (threshold ${(threshold * 100).toFixed(2)}%)`);
  }
  const differences = raw.map((d) => toDifference(d, fp));
  const fails = differences.filter((d) => d.risk === 'fail').length;
  const warns = differences.filter((d) => d.risk === 'warn').length;
  const probes = Object.keys(golden.probes).length;
  evidence.push(
    `compared ${probes} probe(s) and ${Object.keys(golden.commands).length} command(s); ${golden.noise.length} learned noise path(s), ${rules.ignore.size} ignore rule(s)`,
  );
  if (differences.length) evidence.push(`${differences.length} difference(s): ${fails} fail, ${warns} warn`);
  const verdict = fails ? 'fail' : warns ? 'warn' : 'pass';
  const label = input.baselineLabel ?? 'golden';
  const summary =
    verdict === 'pass'
      ? `all ${probes} probe(s) match the ${label}`
      : verdict === 'fail'
        ? `${fails} difference(s) from the ${label} fail`
        : `${warns} tolerated/new difference(s) from the ${label}`;
  return {
    result: { id, title, verdict, summary, evidence },
    differences,
    evidenceFiles,
  };
}
