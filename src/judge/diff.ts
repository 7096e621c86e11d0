/**
 * Structural diff of normalised values (golden vs. actual), with paths and risk classes:
 *   removed key / type change → fail; changed value → fail unless the path is tolerated (warn);
 *   new key → warn; extra or missing array items → fail unless tolerated.
 * Id placeholders (`<uuid:N>`) are compared through a one-to-one mapping between the golden's and
 * the trace's numbers, shared by the whole comparison: renaming an id consistently is no
 * difference, pointing somewhere else (a swap) is.
 */
import { isLosslessNumber } from '../util/exact-json.js';
import { idTokens, skeleton } from './normalize.js';
import { PathRules, type Segment } from './paths.js';

export type Change =
  | 'removed'
  | 'added'
  | 'changed'
  | 'type'
  | 'status'
  | 'failed'
  | 'new-error'
  | 'pixels'
  | 'rows';
export type Risk = 'fail' | 'warn' | 'info';

export interface RawDifference {
  segments: Segment[];
  change: Change;
  risk: Risk;
  golden?: string;
  actual?: string;
}

export interface DiffRules {
  ignore: PathRules;
  tolerate: PathRules;
  unordered: PathRules;
}

export function emptyRules(): DiffRules {
  return { ignore: new PathRules(), tolerate: new PathRules(), unordered: new PathRules() };
}

/** The id mapping shared by one comparison. */
export class IdBijection {
  private readonly g2a = new Map<string, string>();
  private readonly a2g = new Map<string, string>();
  /** Binds the pairs if consistent with earlier bindings; returns false (binding nothing) if not. */
  bind(golden: string[], actual: string[]): boolean {
    if (golden.length !== actual.length) return false;
    const pending: [string, string][] = [];
    for (let i = 0; i < golden.length; i++) {
      const g = golden[i]!;
      const a = actual[i]!;
      const ga = this.g2a.get(g) ?? pending.find(([pg]) => pg === g)?.[1];
      const ag = this.a2g.get(a) ?? pending.find(([, pa]) => pa === a)?.[0];
      if (ga !== undefined && ga !== a) return false;
      if (ag !== undefined && ag !== g) return false;
      if (ga === undefined) pending.push([g, a]);
    }
    for (const [g, a] of pending) {
      this.g2a.set(g, a);
      this.a2g.set(a, g);
    }
    return true;
  }
}

export interface DiffContext {
  rules: DiffRules;
  ids: IdBijection;
  out: RawDifference[];
  /** Leave values out of the differences (SQL rows are capsule data). */
  hideValues?: boolean;
}

type Kind = 'null' | 'boolean' | 'number' | 'string' | 'array' | 'object' | 'undefined';

export function kindOf(v: unknown): Kind {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (isLosslessNumber(v) || typeof v === 'number') return 'number';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'boolean';
  if (Array.isArray(v)) return 'array';
  return 'object';
}

function numText(v: unknown): string {
  return isLosslessNumber(v) ? (v as { value: string }).value : String(v);
}

function numbersEqual(a: unknown, b: unknown): boolean {
  const x = numText(a);
  const y = numText(b);
  if (x === y) return true;
  if (/^-?\d+$/.test(x) && /^-?\d+$/.test(y)) return BigInt(x) === BigInt(y);
  return Number(x) === Number(y);
}

/** A short display of a value (never a whole object or array). */
export function showValue(v: unknown, max = 80): string {
  const k = kindOf(v);
  let s: string;
  if (k === 'object') s = `{…${Object.keys(v as object).length} keys}`;
  else if (k === 'array') s = `[…${(v as unknown[]).length} items]`;
  else if (k === 'number') s = numText(v);
  else s = JSON.stringify(v) ?? String(v);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

function push(ctx: DiffContext, d: RawDifference): void {
  if (ctx.hideValues) {
    delete d.golden;
    delete d.actual;
  }
  ctx.out.push(d);
}

/** A value that differs (same type): fails unless the path is tolerated. */
function pushChanged(ctx: DiffContext, segs: Segment[], golden: unknown, actual: unknown): void {
  push(ctx, {
    segments: segs,
    change: 'changed',
    risk: changedRisk(ctx, segs),
    golden: showValue(golden),
    actual: showValue(actual),
  });
}

function changedRisk(ctx: DiffContext, segs: Segment[]): Risk {
  return ctx.rules.tolerate.covers(segs) ? 'warn' : 'fail';
}

function stringsEqual(ctx: DiffContext, g: string, a: string): boolean {
  if (g === a && idTokens(g).length === 0) return true;
  if (skeleton(g) !== skeleton(a)) return false;
  return ctx.ids.bind(idTokens(g), idTokens(a));
}

export function diffValue(golden: unknown, actual: unknown, segs: Segment[], ctx: DiffContext): void {
  if (ctx.rules.ignore.covers(segs)) return;
  const kg = kindOf(golden);
  const ka = kindOf(actual);
  if (kg !== ka) {
    if (kg === 'undefined') {
      push(ctx, { segments: segs, change: 'added', risk: 'warn', actual: showValue(actual) });
    } else if (ka === 'undefined') {
      push(ctx, { segments: segs, change: 'removed', risk: 'fail', golden: showValue(golden) });
    } else {
      push(ctx, { segments: segs, change: 'type', risk: 'fail', golden: kg, actual: ka });
    }
    return;
  }
  switch (kg) {
    case 'object': {
      const g = golden as Record<string, unknown>;
      const a = actual as Record<string, unknown>;
      for (const key of Object.keys(g).sort()) {
        const p = [...segs, key];
        if (Object.hasOwn(a, key)) diffValue(g[key], a[key], p, ctx);
        else if (!ctx.rules.ignore.covers(p))
          push(ctx, { segments: p, change: 'removed', risk: 'fail', golden: showValue(g[key]) });
      }
      for (const key of Object.keys(a).sort()) {
        const p = [...segs, key];
        if (!Object.hasOwn(g, key) && !ctx.rules.ignore.covers(p))
          push(ctx, { segments: p, change: 'added', risk: 'warn', actual: showValue(a[key]) });
      }
      return;
    }
    case 'array':
      if (ctx.rules.unordered.matches(segs))
        diffUnordered(golden as unknown[], actual as unknown[], segs, ctx);
      else diffOrdered(golden as unknown[], actual as unknown[], segs, ctx);
      return;
    case 'string':
      if (!stringsEqual(ctx, golden as string, actual as string)) pushChanged(ctx, segs, golden, actual);
      return;
    case 'number':
      if (!numbersEqual(golden, actual)) pushChanged(ctx, segs, golden, actual);
      return;
    default:
      if (golden !== actual) pushChanged(ctx, segs, golden, actual);
  }
}

function diffOrdered(g: unknown[], a: unknown[], segs: Segment[], ctx: DiffContext): void {
  const n = Math.min(g.length, a.length);
  for (let i = 0; i < n; i++) diffValue(g[i], a[i], [...segs, i], ctx);
  for (let i = n; i < g.length; i++) {
    const p = [...segs, i];
    if (!ctx.rules.ignore.covers(p))
      push(ctx, { segments: p, change: 'removed', risk: 'fail', golden: showValue(g[i]) });
  }
  for (let i = n; i < a.length; i++) {
    const p = [...segs, i];
    if (!ctx.rules.ignore.covers(p))
      push(ctx, { segments: p, change: 'added', risk: changedRisk(ctx, segs), actual: showValue(a[i]) });
  }
}

/** Canonical text of a value with id numbers dropped: equal shapes match regardless of order. */
export function shapeKey(v: unknown): string {
  const k = kindOf(v);
  if (k === 'string') return JSON.stringify(skeleton(v as string));
  if (k === 'number') return numText(v);
  if (k === 'array') return `[${(v as unknown[]).map(shapeKey).join(',')}]`;
  if (k === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${shapeKey(o[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

function diffUnordered(g: unknown[], a: unknown[], segs: Segment[], ctx: DiffContext): void {
  const byKey = new Map<string, number[]>();
  a.forEach((v, i) => {
    const key = shapeKey(v);
    const list = byKey.get(key) ?? [];
    list.push(i);
    byKey.set(key, list);
  });
  const unmatchedG: number[] = [];
  const usedA = new Set<number>();
  g.forEach((v, i) => {
    const list = byKey.get(shapeKey(v));
    const j = list?.shift();
    if (j === undefined) unmatchedG.push(i);
    else {
      usedA.add(j);
      diffValue(v, a[j], [...segs, i], ctx);
    }
  });
  const unmatchedA = a.map((_, j) => j).filter((j) => !usedA.has(j));
  // Pair what is left in shape order so a changed field is reported as a field change.
  const order = (arr: unknown[], idx: number[]) =>
    [...idx].sort((x, y) => (shapeKey(arr[x]) < shapeKey(arr[y]) ? -1 : 1));
  const gs = order(g, unmatchedG);
  const as = order(a, unmatchedA);
  const n = Math.min(gs.length, as.length);
  for (let k = 0; k < n; k++) diffValue(g[gs[k]!], a[as[k]!], [...segs, gs[k]!], ctx);
  for (const i of gs.slice(n))
    push(ctx, { segments: [...segs, i], change: 'removed', risk: 'fail', golden: showValue(g[i]) });
  for (const j of as.slice(n))
    push(ctx, {
      segments: [...segs, j],
      change: 'added',
      risk: changedRisk(ctx, segs),
      actual: showValue(a[j]),
    });
}
