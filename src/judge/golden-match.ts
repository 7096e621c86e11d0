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
import { type LoadedGolden, normaliseProbes, traceRecords } from './golden.js';
import { goldenScreenshot, traceScreenshot } from './golden-paths.js';
import { judgeConfig } from './loop.js';
import { formatJsonPath, PathRules, type Segment } from './paths.js';
import type { Difference, JudgeResult } from './schema.js';
import { compareScreenshots } from './screenshot.js';

const DEFAULT_SCREENSHOT_THRESHOLD = 0.01;

export interface GoldenMatchOutcome {
  result: JudgeResult;
  differences: Difference[];
  /** Screenshot files worth linking (golden and actual), absolute. */
  evidenceFiles: string[];
  /** The trace replayed another capsule than the golden's: nothing was compared. */
  capsuleDiffers?: boolean;
}

/** The one command that re-blesses after a re-export (docs/judge.md "Re-blessing"). */
function reblessCommand(input: JudgeInput): string {
  const scenario = input.scenario?.id ?? input.trace.scenario;
  return `replay-env bless --trace NEW.trace.json --second-trace NEW-2.trace.json${scenario ? ` --scenario ${scenario}` : ''}`;
}

/** A raw difference as shown in judgements: probe name + path inside the probe's record. */
function toDifference(d: RawDifference, fingerprint?: Fingerprint): Difference {
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

function diffRulesFor(input: JudgeInput, noise: string[] = []): DiffRules {
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
  if (off) return notCompared(off);
  const loaded = input.golden;
  if (!loaded) {
    const where = input.goldenPath ? ` at ${input.goldenPath}` : '';
    const summary = `no golden trace${where}; run \`replay-env bless\` on a good run to create one`;
    return notCompared({ id, title, verdict: 'skip', summary, evidence: [] });
  }
  const { golden } = loaded;
  const evidence = [describeGolden(input, loaded)];
  if (golden.app !== input.trace.app) {
    const summary = `the golden is for app ${golden.app}, the trace for ${input.trace.app}`;
    return notCompared({ id, title, verdict: 'fail', summary, evidence });
  }
  const label = input.baselineLabel ?? 'golden';
  const capsule = compareCapsuleWithGolden(golden, input.trace, reblessCommand(input), label);
  if (capsule.kind === 'differs') {
    const result: JudgeResult = {
      id,
      title,
      verdict: 'warn',
      summary: capsule.summary,
      evidence: [...evidence, ...capsule.evidence],
    };
    return { ...notCompared(result), capsuleDiffers: true };
  }
  if (capsule.kind === 'unbound' && capsule.note) evidence.push(capsule.note);
  const compared = compareWithGolden(input, loaded, evidence);
  return {
    result: { id, title, ...summarise(compared, golden, label) },
    differences: compared.differences,
    evidenceFiles: compared.evidenceFiles,
  };
}

function notCompared(result: JudgeResult): GoldenMatchOutcome {
  return { result, differences: [], evidenceFiles: [] };
}

/** The first evidence line: which golden (or base-branch run) the trace is compared with. */
function describeGolden(input: JudgeInput, loaded: LoadedGolden): string {
  const { provenance } = loaded.golden;
  const commit = provenance.gitCommit ? ` at ${provenance.gitCommit.slice(0, 12)}` : '';
  return input.baselineLabel
    ? `${loaded.path}${commit}`
    : `golden ${loaded.path} (blessed ${provenance.createdAt}${commit})`;
}

interface Comparison {
  differences: Difference[];
  evidenceFiles: string[];
  evidence: string[];
  ignoreRules: number;
}

/** Probe and command records, then screenshots, against the golden's; notes go to `evidence`. */
function compareWithGolden(input: JudgeInput, loaded: LoadedGolden, evidence: string[]): Comparison {
  const rec = traceRecords(input.trace);
  const actual = { probes: normaliseProbes(rec.probes), commands: rec.commands };
  const rules = diffRulesFor(input, loaded.golden.noise);
  const fp = input.fingerprint ?? fingerprinter();
  const raw = compareRecords(loaded.golden, actual, rules, fp);
  const evidenceFiles: string[] = [];
  const threshold = screenshotThreshold(input);
  const probes = Object.entries(loaded.golden.probes).sort(([x], [y]) => (x < y ? -1 : 1));
  for (const [name, g] of probes) {
    if (!g.screenshot || !actual.probes[name] || rules.ignore.covers(['probes', name, 'screenshot']))
      continue;
    const shot = compareScreenshotOf(input, loaded, {
      name,
      golden: g.screenshot,
      shot: rec.screenshots[name],
    });
    if (shot.files) evidenceFiles.push(...shot.files);
    if (shot.note) evidence.push(shot.note);
    if (shot.ratio === undefined) continue;
    const pct = (shot.ratio * 100).toFixed(2);
    if (shot.ratio > threshold)
      raw.push(
        outcome({
          segments: ['probes', name, 'screenshot'],
          change: 'pixels',
          risk: 'warn',
          golden: g.screenshot,
          actual: shot.sizeChanged ?? `${pct}% pixels differ`,
        }),
      );
    else
      evidence.push(`screenshot ${name}: ${pct}% pixels differ (threshold ${(threshold * 100).toFixed(2)}%)`);
  }
  const differences = raw.map((d) => toDifference(d, fp));
  return { differences, evidenceFiles, evidence, ignoreRules: rules.ignore.size };
}

function screenshotThreshold(input: JudgeInput): number {
  const cfg = judgeConfig(input.config, 'golden-match');
  return (
    (cfg && cfg.id === 'golden-match' ? cfg.options.screenshotThreshold : undefined) ??
    DEFAULT_SCREENSHOT_THRESHOLD
  );
}

interface ScreenshotOutcome {
  /** Golden and actual file, when both exist. */
  files?: [string, string];
  /** Why nothing was compared. */
  note?: string;
  /** Share of pixels that differ (absent: not compared). */
  ratio?: number;
  /** Set when the sizes differ: what to show as the actual value. */
  sizeChanged?: string;
}

function compareScreenshotOf(
  input: JudgeInput,
  loaded: LoadedGolden,
  probe: { name: string; golden: string; shot: string | undefined },
): ScreenshotOutcome {
  const { name, shot } = probe;
  // Both paths come from untrusted files: each stays inside its own directory (golden-paths.ts).
  const goldenFile = goldenScreenshot(loaded.path, name, probe.golden);
  const actualFile = shot ? traceScreenshot(input.tracePath, name, shot) : undefined;
  if (!goldenFile) return { note: `note: golden screenshot of ${name} is missing (${probe.golden})` };
  if (!actualFile)
    return { note: `note: no screenshot of ${name} in this run${shot ? ` (${shot} missing)` : ''}` };
  const files: [string, string] = [goldenFile, actualFile];
  const cmp = compareScreenshots(goldenFile, actualFile);
  if (!cmp.ok) return { files, note: `note: ${cmp.error}` };
  return {
    files,
    ratio: cmp.ratio,
    ...(cmp.sizeChanged ? { sizeChanged: `size changed (${cmp.width}×${cmp.height})` } : {}),
  };
}

/** The verdict and summary from the differences; the counts go to the evidence. */
function summarise(
  compared: Comparison,
  golden: LoadedGolden['golden'],
  label: string,
): Pick<JudgeResult, 'verdict' | 'summary' | 'evidence'> {
  const { differences, evidence } = compared;
  const fails = differences.filter((d) => d.risk === 'fail').length;
  const warns = differences.filter((d) => d.risk === 'warn').length;
  const probes = Object.keys(golden.probes).length;
  evidence.push(
    `compared ${probes} probe(s) and ${Object.keys(golden.commands).length} command(s); ${golden.noise.length} learned noise path(s), ${compared.ignoreRules} ignore rule(s)`,
  );
  if (differences.length) evidence.push(`${differences.length} difference(s): ${fails} fail, ${warns} warn`);
  const verdict = fails ? 'fail' : warns ? 'warn' : 'pass';
  const summary =
    verdict === 'pass'
      ? `all ${probes} probe(s) match the ${label}`
      : verdict === 'fail'
        ? `${fails} difference(s) from the ${label} fail`
        : `${warns} tolerated/new difference(s) from the ${label}`;
  return { verdict, summary, evidence };
}
