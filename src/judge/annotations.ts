/**
 * Annotations for GitHub: each probe with failing or warning differences gets one annotation on
 * the golden file, at the line where that probe's record starts (goldens are committed, so the
 * annotation lands in the pull request's files).
 */
import { isAbsolute, relative } from 'node:path';
import type { LoadedGolden } from './golden.js';
import type { Annotation, Difference } from './schema.js';

const MAX_ANNOTATIONS = 50;

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
        `${d.change} at ${d.path}${d.goldenPublic !== undefined || d.actualPublic !== undefined ? `: ${d.goldenPublic ?? '∅'} → ${d.actualPublic ?? '∅'}` : ''}`,
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
