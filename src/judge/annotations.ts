/**
 * Annotations for GitHub: each probe with failing or warning differences gets one annotation on
 * the golden file, at the line where that probe's record starts (goldens are committed, so the
 * annotation lands in the pull request's files).
 */
import { isAbsolute, relative } from 'node:path';
import type { LoadedGolden } from './golden.js';
import type { Annotation, Difference, StepFailure } from './schema.js';

/** The Checks API takes 50 per request; the Action posts them in batches (a generous cap). */
const MAX_ANNOTATIONS = 1_000;

/** 1-based line of `"<probe>": {` inside the golden's "probes" object, else 1. */
function probeLine(text: string, probe: string): number {
  const start = text.indexOf('\n  "probes": {');
  if (start < 0) return 1;
  const at = text.indexOf(`\n    ${JSON.stringify(probe)}: {`, start);
  const offset = at < 0 ? start : at;
  return text.slice(0, offset + 1).split('\n').length;
}

export function goldenAnnotations(golden: LoadedGolden, diffs: Difference[], repoRoot: string): Annotation[] {
  const rel = relative(repoRoot, golden.path);
  if (!golden.text || rel.startsWith('..') || isAbsolute(rel)) return [];
  const byProbe = new Map<string, Difference[]>();
  for (const d of diffs) {
    if (d.risk === 'info') continue;
    const list = byProbe.get(d.probe) ?? [];
    list.push(d);
    byProbe.set(d.probe, list);
  }
  const out: Annotation[] = [];
  for (const [probe, list] of [...byProbe].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const fails = list.filter((d) => d.risk === 'fail');
    const shown = (fails.length ? fails : list).slice(0, 5);
    const line = probe.startsWith('command:') ? 1 : probeLine(golden.text, probe);
    // Annotations are public: fingerprints of values, never the values (diff.ts).
    const lines = shown.map(
      (d) =>
        `${d.change} at ${d.pathPublic ?? d.path}${d.goldenPublic !== undefined || d.actualPublic !== undefined ? `: ${d.goldenPublic ?? '∅'} → ${d.actualPublic ?? '∅'}` : ''}`,
    );
    if (list.length > shown.length) lines.push(`… and ${list.length - shown.length} more`);
    out.push({
      path: rel.split('\\').join('/'),
      startLine: line,
      endLine: line,
      level: fails.length ? 'failure' : 'warning',
      title: `${probe} differs from the golden`,
      message: lines.join('\n'),
    });
    if (out.length >= MAX_ANNOTATIONS) break;
  }
  return out;
}

/** 1-based line where the manifest names `name` (`"name": "x"` in JSON, `name: x` in YAML), else 1. */
function manifestNameLine(text: string, name: string): number {
  const json = `"name": ${JSON.stringify(name)}`;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.includes(json)) return i + 1;
    const m = /^\s*(?:-\s+)?name\s*:\s*(.*?)\s*$/.exec(l);
    if (m && m[1]!.replace(/^(['"])(.*)\1$/, '$2') === name) return i + 1;
  }
  return 1;
}

/** One annotation per failing step on the manifest line that declares it (inside the repository). */
export function manifestAnnotations(
  failures: StepFailure[],
  manifest: { path: string; text: string },
  repoRoot: string,
): Annotation[] {
  const rel = relative(repoRoot, manifest.path);
  if (rel.startsWith('..') || isAbsolute(rel)) return [];
  const out: Annotation[] = [];
  for (const f of failures.slice(0, MAX_ANNOTATIONS)) {
    const line = f.name ? manifestNameLine(manifest.text, f.name) : 1;
    out.push({
      path: rel.split('\\').join('/'),
      startLine: line,
      endLine: line,
      level: 'failure',
      title: `${f.step} failed`,
      message: `expected ${f.expected}, got ${f.actual}`,
    });
  }
  return out;
}
