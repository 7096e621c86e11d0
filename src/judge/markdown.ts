/**
 * One Markdown rendering of a judgement, shared by the CLI, the job summary, the check run and
 * the PR comment: a decision banner, the reasons, a table of judges, the top differences with
 * paths, the judges' evidence and the evidence files. It fits a character budget (GitHub: check
 * run summary 65,535, comment 65,536) by showing fewer differences and evidence lines, and says
 * so. It never contains values from the replay (capsule rows, response bodies, command output):
 * a difference shows its path, the kind of change and the public description of each side
 * (`goldenPublic`/`actualPublic`: a shape and keyed fingerprint for data, the text for outcomes
 * such as status codes). `showValues` (private repositories, explicit opt-in) shows the values
 * kept in the judgement JSON instead.
 *
 * Also a short plain-text rendering for the terminal.
 */
import { mdCode, mdText } from '../util/markdown-escape.js';
import { databaseMarkdown, databaseText } from './markdown-database.js';
import type { Difference, Judgement, Verdict } from './schema.js';

export const GITHUB_CHECK_SUMMARY_LIMIT = 65_535;
export const GITHUB_COMMENT_LIMIT = 65_536;

export interface MarkdownOptions {
  /** Character budget (default: the check-run summary limit). */
  maxChars?: number;
  /** At most this many differences (default 50). */
  maxDifferences?: number;
  /** A heading level for the banner (default 2). */
  headingLevel?: number;
  /** Link or path shown as "full judgement" in the truncation note. */
  fullJudgementRef?: string;
  /** Show the differing values themselves (opt-in, private repositories only); default: fingerprints. */
  showValues?: boolean;
  /**
   * Replaces the "Evidence files" line (already-safe Markdown): the Action links the run and the
   * uploaded artifact instead of runner-local paths.
   */
  evidenceLine?: string;
  /** Appended last (already-safe Markdown), e.g. the commit, run and time judged. */
  footer?: string;
}

/** The two sides of a difference as a surface may show them. */
function differenceSides(d: Difference, showValues = false): { golden?: string; actual?: string } {
  if (showValues) return { golden: d.golden ?? d.goldenPublic, actual: d.actual ?? d.actualPublic };
  return { golden: d.goldenPublic, actual: d.actualPublic };
}

const BANNER: Record<Judgement['decision'], string> = {
  block: '🛑 **BLOCK**',
  warn: '⚠️ **WARN**',
  continue: '✅ **CONTINUE**',
};

const VERDICT_ICON: Record<Verdict, string> = {
  pass: '✅ pass',
  warn: '⚠️ warn',
  fail: '❌ fail',
  skip: '⏭️ skip',
};

const RISK_ORDER = { fail: 0, warn: 1, info: 2 } as const;

function sortDifferences(diffs: readonly Difference[]): Difference[] {
  return [...diffs].sort(
    (a, b) =>
      RISK_ORDER[a.risk] - RISK_ORDER[b.risk] ||
      (a.probe < b.probe ? -1 : a.probe > b.probe ? 1 : 0) ||
      (a.path < b.path ? -1 : a.path > b.path ? 1 : 0),
  );
}

function cell(s: string | undefined, max: number): string {
  return mdText(s, max);
}

function code(s: string | undefined, max: number): string {
  return mdCode(s, max);
}

/**
 * A gate reason for people: `block: required_probe_failed — a probe without allowFailure failed`
 * reads as "a probe without allowFailure failed (`required_probe_failed`)".
 */
export function humanReason(reason: string): { text: string; condition?: string } {
  const m = /^(?:block|warn|human review): (.+?) — (.+)$/s.exec(reason);
  return m ? { text: m[2]!, condition: m[1]! } : { text: reason };
}

function reasonMarkdown(reason: string, max: number): string {
  const h = humanReason(reason);
  return h.condition ? `${cell(h.text, max)} (${code(h.condition, 120)})` : cell(h.text, max);
}

interface Limits {
  differences: number;
  evidencePerJudge: number;
  reasons: number;
  cellChars: number;
  evidenceFiles: number;
}

function counts(diffs: readonly Difference[]): string {
  const by = { fail: 0, warn: 0, info: 0 };
  for (const d of diffs) by[d.risk]++;
  return `${by.fail} fail, ${by.warn} warn, ${by.info} info`;
}

function renderWith(j: Judgement, limits: Limits, opts: MarkdownOptions, truncated: boolean): string {
  const h = '#'.repeat(opts.headingLevel ?? 2);
  const lines: string[] = [];
  const where = [`app ${code(j.app, 100)}`, j.scenario ? `scenario ${code(j.scenario, 100)}` : '']
    .filter(Boolean)
    .join(' · ');
  lines.push(`${h} Replay gate: ${BANNER[j.decision]} — ${where}`, '');
  if (j.baseline) lines.push(`Judged ${cell(j.baseline.description, 300)}.`, '');
  if (j.humanReview) lines.push('> 👀 **Human review requested** — see the reasons.', '');
  if (j.reasons.length) {
    lines.push('**Why**', '');
    for (const r of j.reasons.slice(0, limits.reasons))
      lines.push(`- ${reasonMarkdown(r, limits.cellChars * 3)}`);
    if (j.reasons.length > limits.reasons)
      lines.push(`- … and ${j.reasons.length - limits.reasons} more reason(s)`);
    lines.push('');
  } else lines.push('No gate condition held: every judge is within the policy.', '');

  const failures = j.failures ?? [];
  if (failures.length) {
    const shown = failures.slice(0, Math.max(limits.differences, 5));
    lines.push(
      `${h}# What failed (${failures.length})`,
      '',
      '| Step | Expected | Got |',
      '| --- | --- | --- |',
    );
    for (const f of shown)
      lines.push(`| ${cell(f.step, 100)} | ${cell(f.expected, 80)} | ${cell(f.actual, 100)} |`);
    if (shown.length < failures.length) lines.push('', `_… and ${failures.length - shown.length} more._`);
    lines.push('');
  }

  lines.push('| Judge | Verdict | Summary |', '| --- | --- | --- |');
  for (const jr of j.judges)
    lines.push(
      `| ${cell(jr.title, 60)} | ${VERDICT_ICON[jr.verdict]} | ${cell(jr.summary, limits.cellChars * 2)} |`,
    );
  lines.push('');

  const diffs = sortDifferences(j.differences);
  if (diffs.length) {
    const shown = diffs.slice(0, limits.differences);
    lines.push(
      `${h}# Differences from the golden (${diffs.length}: ${counts(diffs)}${
        shown.length < diffs.length ? `; top ${shown.length} shown` : ''
      })`,
      '',
      '| Risk | Probe | Path | Change | Golden | Actual |',
      '| --- | --- | --- | --- | --- | --- |',
    );
    for (const d of shown) {
      const side = differenceSides(d, opts.showValues);
      lines.push(
        `| ${d.risk} | ${cell(d.probe, 60)} | ${code(opts.showValues ? d.path : (d.pathPublic ?? d.path), limits.cellChars * 2)} | ${d.change} | ${code(side.golden, limits.cellChars)} | ${code(side.actual, limits.cellChars)} |`,
      );
    }
    if (shown.length < diffs.length) {
      const rest = diffs.slice(shown.length);
      lines.push('', `_… and ${rest.length} more difference(s) not shown (${counts(rest)})._`);
    }
    lines.push('');
  }

  lines.push(...databaseMarkdown(j.database, `${h}#`, Math.max(limits.differences, 5)));

  const withEvidence = j.judges.filter((jr) => jr.evidence.length);
  if (withEvidence.length && limits.evidencePerJudge > 0) {
    lines.push('<details><summary>Evidence</summary>', '');
    for (const jr of withEvidence) {
      lines.push(`**${cell(jr.title, 60)}**`, '');
      for (const e of jr.evidence.slice(0, limits.evidencePerJudge))
        lines.push(`- ${cell(e, limits.cellChars * 3)}`);
      if (jr.evidence.length > limits.evidencePerJudge)
        lines.push(`- … and ${jr.evidence.length - limits.evidencePerJudge} more line(s)`);
      lines.push('');
    }
    lines.push('</details>', '');
  }

  if (opts.evidenceLine !== undefined) lines.push(opts.evidenceLine);
  else {
    const files: string[] = [];
    if (j.trace.path) files.push(`trace: ${code(j.trace.path, 200)}`);
    if (j.golden) files.push(`golden: ${code(j.golden.path, 200)}`);
    files.push(`policy: ${code(j.policy.path, 200)}`);
    for (const e of j.evidence.slice(0, limits.evidenceFiles)) files.push(code(e, 200));
    if (j.evidence.length > limits.evidenceFiles)
      files.push(`… and ${j.evidence.length - limits.evidenceFiles} more file(s)`);
    lines.push(`**Evidence files** — ${files.join(' · ')}`);
  }
  if (opts.footer) lines.push('', opts.footer);

  if (truncated) {
    const ref = opts.fullJudgementRef ? ` (${opts.fullJudgementRef})` : '';
    lines.push(
      '',
      `_Truncated to fit ${(opts.maxChars ?? GITHUB_CHECK_SUMMARY_LIMIT).toLocaleString('en-US')} characters: some differences, reasons or evidence lines are not shown; the full judgement JSON has everything${ref}._`,
    );
  }
  return `${lines.join('\n')}\n`;
}

export function renderJudgementMarkdown(j: Judgement, opts: MarkdownOptions = {}): string {
  const max = opts.maxChars ?? GITHUB_CHECK_SUMMARY_LIMIT;
  const full: Limits = {
    differences: opts.maxDifferences ?? 50,
    evidencePerJudge: 30,
    reasons: 50,
    cellChars: 80,
    evidenceFiles: 30,
  };
  const fitsFully = (s: string) => s.length <= max;
  const first = renderWith(j, full, opts, false);
  const lossless =
    j.differences.length <= full.differences &&
    j.judges.every((jr) => jr.evidence.length <= full.evidencePerJudge) &&
    j.reasons.length <= full.reasons &&
    j.evidence.length <= full.evidenceFiles;
  if (fitsFully(first)) {
    // Fits, but the row caps hid something: say so.
    return lossless ? first : renderWith(j, full, opts, true);
  }
  // Shrink step by step until it fits, always with the truncation note.
  const steps: Partial<Limits>[] = [
    { differences: 20, evidencePerJudge: 10 },
    { differences: 10, evidencePerJudge: 5, evidenceFiles: 10, reasons: 20 },
    { differences: 5, evidencePerJudge: 2, cellChars: 40, evidenceFiles: 5, reasons: 10 },
    { differences: 0, evidencePerJudge: 0, cellChars: 30, evidenceFiles: 0, reasons: 5 },
  ];
  let limits = full;
  for (const step of steps) {
    limits = { ...limits, ...step };
    const out = renderWith(j, limits, opts, true);
    if (fitsFully(out)) return out;
  }
  // Still too long (e.g. absurdly long names): hard cut at a line boundary, note kept.
  const note = `\n\n_Truncated to fit ${max.toLocaleString('en-US')} characters; the full judgement JSON has everything._\n`;
  const body = renderWith(j, limits, opts, false);
  const cut = body.slice(0, Math.max(0, max - note.length));
  const atLine = cut.lastIndexOf('\n');
  return `${atLine > 0 ? cut.slice(0, atLine) : cut}${note}`;
}

/** A few lines for the terminal. */
export function renderJudgementText(
  j: Judgement,
  opts: { maxDifferences?: number; showValues?: boolean } = {},
): string {
  const maxDiffs = opts.maxDifferences ?? 20;
  const out: string[] = [];
  out.push(
    `decision: ${j.decision.toUpperCase()}${j.humanReview ? ' (human review requested)' : ''} — ${j.app}${
      j.scenario ? ` / ${j.scenario}` : ''
    }`,
  );
  if (j.baseline) out.push(`judged ${j.baseline.description}`);
  if (j.reasons.length) {
    out.push('reasons:');
    for (const r of j.reasons) out.push(`  - ${r}`);
  }
  out.push('judges:');
  const width = Math.max(...j.judges.map((jr) => jr.id.length));
  for (const jr of j.judges) out.push(`  ${jr.verdict.padEnd(4)}  ${jr.id.padEnd(width)}  ${jr.summary}`);
  const diffs = sortDifferences(j.differences);
  if (diffs.length) {
    out.push(`differences from the golden (${diffs.length}: ${counts(diffs)}):`);
    for (const d of diffs.slice(0, maxDiffs)) {
      const side = differenceSides(d, opts.showValues);
      const values =
        side.golden !== undefined || side.actual !== undefined
          ? `: ${side.golden ?? '∅'} → ${side.actual ?? '∅'}`
          : '';
      out.push(
        `  ${d.risk.padEnd(4)}  ${d.probe} ${opts.showValues ? d.path : (d.pathPublic ?? d.path)} ${d.change}${values}`,
      );
    }
    if (diffs.length > maxDiffs) out.push(`  … and ${diffs.length - maxDiffs} more (see the judgement JSON)`);
  }
  out.push(...databaseText(j.database));
  return `${out.join('\n')}\n`;
}
