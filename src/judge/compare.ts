/**
 * Comparing normalised probe records (golden vs. trace), probe by probe: ok, status codes, exit
 * codes, JSON bodies (structural), text bodies, headers, command output, SQL rows (order-
 * insensitive unless the query orders), console errors. Screenshots are compared in
 * golden-match.ts (they need files).
 */
import {
  type DiffContext,
  type DiffRules,
  diffValue,
  type Fingerprint,
  fingerprinter,
  IdBijection,
  outcome,
  type RawDifference,
  showValue,
} from './diff.js';
import type { ProbeRecord } from './golden.js';
import { skeleton } from './normalize.js';
import { PathRules, type Segment } from './paths.js';

export interface Comparable {
  probes: Record<string, ProbeRecord>;
  commands: Record<string, { ok: boolean; exitCode?: number | null }>;
}

/**
 * Differences between a golden and a trace. Outcomes (ok, status and exit codes, probe kinds, row
 * counts) are public as they are; values from the replay get a fingerprint (diff.ts).
 */
export function compareRecords(
  golden: Comparable,
  actual: Comparable,
  rules: DiffRules,
  fingerprint: Fingerprint = fingerprinter(),
): RawDifference[] {
  const ctx: DiffContext = { rules, ids: new IdBijection(), out: [], fingerprint };
  const out = ctx.out;
  const push = (d: RawDifference) => out.push(outcome(d));
  for (const name of Object.keys(golden.probes).sort()) {
    const g = golden.probes[name]!;
    const a = actual.probes[name];
    const base: Segment[] = ['probes', name];
    if (rules.ignore.covers(base)) continue;
    if (!a) {
      push({
        segments: base,
        change: 'removed',
        risk: 'fail',
        golden: `${g.kind} probe`,
        actual: 'not run',
      });
      continue;
    }
    compareProbe(g, a, base, ctx);
  }
  for (const name of Object.keys(actual.probes).sort()) {
    if (!golden.probes[name] && !rules.ignore.covers(['probes', name]))
      push({
        segments: ['probes', name],
        change: 'added',
        risk: 'warn',
        actual: `${actual.probes[name]!.kind} probe`,
      });
  }
  for (const name of Object.keys(golden.commands).sort()) {
    const g = golden.commands[name]!;
    const a = actual.commands[name];
    const base: Segment[] = ['commands', name];
    if (rules.ignore.covers(base)) continue;
    if (!a) {
      push({ segments: base, change: 'removed', risk: 'info', golden: 'command', actual: 'not run' });
      continue;
    }
    if (g.ok && !a.ok)
      push({
        segments: [...base, 'ok'],
        change: 'failed',
        risk: 'fail',
        golden: 'ok',
        actual: 'failed',
      });
    if ((g.exitCode ?? null) !== (a.exitCode ?? null))
      push({
        segments: [...base, 'exitCode'],
        change: 'status',
        risk: 'fail',
        golden: String(g.exitCode ?? null),
        actual: String(a.exitCode ?? null),
      });
  }
  return ctx.out;
}

function compareProbe(g: ProbeRecord, a: ProbeRecord, base: Segment[], ctx: DiffContext): void {
  const out = { push: (d: RawDifference) => ctx.out.push(outcome(d)) };
  const at = (...s: Segment[]) => [...base, ...s];
  const ignored = (...s: Segment[]) => ctx.rules.ignore.covers(at(...s));
  if (g.kind !== a.kind) {
    out.push({ segments: at('kind'), change: 'type', risk: 'fail', golden: g.kind, actual: a.kind });
    return;
  }
  if (!ignored('ok')) {
    if (g.ok && !a.ok)
      out.push({ segments: at('ok'), change: 'failed', risk: 'fail', golden: 'ok', actual: 'failed' });
    else if (!g.ok && a.ok)
      out.push({ segments: at('ok'), change: 'changed', risk: 'info', golden: 'failed', actual: 'ok' });
  }
  for (const field of ['status', 'exitCode'] as const) {
    if (g[field] === undefined || ignored(field)) continue;
    if ((g[field] ?? null) !== (a[field] ?? null))
      out.push({
        segments: at(field),
        change: 'status',
        risk: 'fail',
        golden: String(g[field] ?? null),
        actual: String(a[field] ?? null),
      });
  }
  // A JSON body that became text (or the reverse) is a type change of the body.
  if ((g.json !== undefined) !== (a.json !== undefined) && (g.json !== undefined || g.text !== undefined)) {
    if (!ignored('json'))
      out.push({
        segments: at('json'),
        change: 'type',
        risk: 'fail',
        golden: g.json !== undefined ? 'json' : 'text',
        actual: a.json !== undefined ? 'json' : a.text !== undefined ? 'text' : 'nothing',
      });
  } else {
    if (g.json !== undefined) diffValue(g.json, a.json, at('json'), ctx);
    if (g.text !== undefined) diffValue(g.text, a.text, at('text'), ctx);
  }
  if (g.headers) diffValue(g.headers, a.headers ?? {}, at('headers'), ctx);
  if (g.stdout !== undefined && !ignored('stdout') && skeleton(g.stdout) !== skeleton(a.stdout ?? '')) {
    // Command output is informative, not a contract: a change only warns (learned noise hides it).
    // It is the app's output, i.e. possibly capsule data: fingerprints only in public.
    const golden = lastLine(g.stdout);
    const actual = lastLine(a.stdout ?? '');
    ctx.out.push({
      segments: at('stdout'),
      change: 'changed',
      risk: 'warn',
      golden: showValue(golden),
      actual: showValue(actual),
      goldenPublic: ctx.fingerprint(golden),
      actualPublic: ctx.fingerprint(actual),
    });
  }
  if (g.sql) compareSql(g.sql, a.sql, at('sql'), ctx);
  if (g.consoleErrors && !ignored('consoleErrors')) {
    const before = new Set(g.consoleErrors.map(skeleton));
    const after = new Set((a.consoleErrors ?? []).map(skeleton));
    (a.consoleErrors ?? []).forEach((e, i) => {
      // Console messages may quote page content (capsule data): fingerprints only in public.
      if (!before.has(skeleton(e)))
        ctx.out.push({
          segments: at('consoleErrors', i),
          change: 'new-error',
          risk: 'fail',
          actual: showValue(e, 160),
          actualPublic: ctx.fingerprint(e),
        });
    });
    g.consoleErrors.forEach((e, i) => {
      if (!after.has(skeleton(e)))
        ctx.out.push({
          segments: at('consoleErrors', i),
          change: 'removed',
          risk: 'info',
          golden: showValue(e, 160),
          goldenPublic: ctx.fingerprint(e),
        });
    });
  }
}

function lastLine(s: string): string {
  const lines = s.trimEnd().split('\n');
  return lines[lines.length - 1] ?? '';
}

function rowObjects(columns: string[], rows: unknown[][]): Record<string, unknown>[] {
  return rows.map((r) => {
    const o: Record<string, unknown> = {};
    columns.forEach((c, i) => {
      o[c] = r[i];
    });
    return o;
  });
}

/** Rows are capsule data: differences carry paths and counts, never the values. */
function compareSql(
  g: NonNullable<ProbeRecord['sql']>,
  a: ProbeRecord['sql'],
  base: Segment[],
  ctx: DiffContext,
): void {
  if (!a) {
    ctx.out.push(
      outcome({ segments: base, change: 'removed', risk: 'fail', golden: 'rows', actual: 'no result' }),
    );
    return;
  }
  // Column names come from the manifest's query, not from the data: shown as they are.
  diffValue(g.columns, a.columns, [...base, 'columns'], { ...ctx, publicValues: true });
  const rowsPath = [...base, 'rows'];
  if (ctx.rules.ignore.covers(rowsPath)) return;
  const inner: DiffContext = {
    rules: {
      ...ctx.rules,
      // Row order only matters when the query has a top-level ORDER BY.
      unordered: g.ordered ? ctx.rules.unordered : new PathRules([pathRule(rowsPath)]),
    },
    ids: ctx.ids,
    out: [],
    fingerprint: ctx.fingerprint,
    hideValues: true,
  };
  diffValue(rowObjects(g.columns, g.rows), rowObjects(a.columns, a.rows), rowsPath, inner);
  if (inner.out.length && g.rows.length !== a.rows.length) {
    ctx.out.push(
      outcome({
        segments: rowsPath,
        change: 'rows',
        risk: 'fail',
        golden: `${g.rows.length} rows`,
        actual: `${a.rows.length} rows`,
      }),
    );
  }
  ctx.out.push(...inner.out);
}

function pathRule(segs: Segment[]): string {
  return `$${segs.map((s) => (typeof s === 'number' ? `[${s}]` : `[${JSON.stringify(s)}]`)).join('')}`;
}
