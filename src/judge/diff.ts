/**
 * Structural diff of normalised values (golden vs. actual), with paths and risk classes:
 *   removed key / type change → fail; changed value → fail unless the path is tolerated (warn);
 *   new key → warn; extra or missing array items → fail unless tolerated.
 * Id placeholders (`<uuid:N>`) are compared through a one-to-one mapping between the golden's and
 * the trace's numbers, shared by the whole comparison: renaming an id consistently is no
 * difference, pointing somewhere else (a swap) is.
 *
 * Values vs. what may be shown: a difference carries `golden`/`actual` (the values, cut to 80
 * characters; they go only into the judgement JSON, an access-controlled artifact) and
 * `goldenPublic`/`actualPublic`, the only text public surfaces (PR comment, check run, annotations,
 * job summary, logs) print. For values that come from the replay (bodies, headers, rows, command
 * output, console messages — i.e. capsule data) the public text is a shape and a keyed fingerprint,
 * `string(12) #3fa9c2d1`; for outcomes (status and exit codes, ok/failed, kinds, row counts) it is
 * the text itself.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { isLosslessNumber } from '../util/exact-json.js';
import { idTokens, skeleton } from './normalize.js';
import { PathRules, type Segment } from './paths.js';

type Change =
  | 'removed'
  | 'added'
  | 'changed'
  | 'type'
  | 'status'
  | 'failed'
  | 'new-error'
  | 'pixels'
  | 'rows';
type Risk = 'fail' | 'warn' | 'info';

export interface RawDifference {
  segments: Segment[];
  change: Change;
  risk: Risk;
  golden?: string;
  actual?: string;
  /** What public surfaces may show instead of golden/actual (see the header). */
  goldenPublic?: string;
  actualPublic?: string;
}

/** The public description of a data value: its type, size and a keyed fingerprint. */
export type Fingerprint = (v: unknown) => string;

/**
 * Fingerprints keyed with HMAC-SHA256: plain hashes of low-entropy values (a name, an email, a
 * small number, a boolean) can be reversed by guessing, a keyed hash cannot without the key. The
 * key is random per judgement and never written anywhere, so a fingerprint only says "equal" or
 * "different" within one report (the golden's value vs. the trace's, or two places of one report);
 * it reveals nothing else, not even across reports. 32 bits are shown: enough to tell values apart
 * by eye, far too few to serve as a guessing oracle.
 */
export function fingerprinter(key: Uint8Array = randomBytes(32)): Fingerprint {
  const mac = (text: string) => createHmac('sha256', key).update(text).digest('hex').slice(0, 8);
  return (v) => {
    const k = kindOf(v);
    switch (k) {
      case 'null':
        return 'null';
      case 'undefined':
        return 'nothing';
      case 'array':
        return `array(${(v as unknown[]).length})`;
      case 'object':
        return `object(${Object.keys(v as object).length} keys)`;
      case 'string':
        return `string(${[...(v as string)].length}) #${mac(`s:${v as string}`)}`;
      case 'number':
        return `number #${mac(`n:${numText(v)}`)}`;
      default:
        return `${k} #${mac(`${k}:${String(v)}`)}`;
    }
  };
}

/** A difference whose golden/actual texts are outcomes, not data: they are shown as they are. */
export function outcome(d: RawDifference): RawDifference {
  if (d.golden !== undefined) d.goldenPublic = d.golden;
  if (d.actual !== undefined) d.actualPublic = d.actual;
  return d;
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
  /** Public descriptions of data values (fingerprinter()). */
  fingerprint: Fingerprint;
  /** Leave values out of the differences, even in the judgement JSON (SQL rows are capsule data). */
  hideValues?: boolean;
  /** The values are not data (e.g. SQL column names written in the manifest): show them. */
  publicValues?: boolean;
}

type Kind = 'null' | 'boolean' | 'number' | 'string' | 'array' | 'object' | 'undefined';

function kindOf(v: unknown): Kind {
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

interface ValueDifference {
  segments: Segment[];
  change: Change;
  risk: Risk;
}

/** A difference between data values: the values for the JSON, fingerprints for public surfaces. */
function push(ctx: DiffContext, d: ValueDifference, values: { golden?: unknown; actual?: unknown }): void {
  const out: RawDifference = { ...d };
  for (const side of ['golden', 'actual'] as const) {
    if (!(side in values)) continue;
    const v = values[side];
    if (!ctx.hideValues) out[side] = showValue(v);
    out[`${side}Public`] = ctx.publicValues ? showValue(v) : ctx.fingerprint(v);
  }
  ctx.out.push(out);
}

/** A value that differs (same type): fails unless the path is tolerated. */
function pushChanged(ctx: DiffContext, segs: Segment[], golden: unknown, actual: unknown): void {
  push(ctx, { segments: segs, change: 'changed', risk: changedRisk(ctx, segs) }, { golden, actual });
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
      push(ctx, { segments: segs, change: 'added', risk: 'warn' }, { actual });
    } else if (ka === 'undefined') {
      push(ctx, { segments: segs, change: 'removed', risk: 'fail' }, { golden });
    } else {
      // The type names are no data.
      ctx.out.push(outcome({ segments: segs, change: 'type', risk: 'fail', golden: kg, actual: ka }));
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
          push(ctx, { segments: p, change: 'removed', risk: 'fail' }, { golden: g[key] });
      }
      for (const key of Object.keys(a).sort()) {
        const p = [...segs, key];
        if (!Object.hasOwn(g, key) && !ctx.rules.ignore.covers(p))
          push(ctx, { segments: p, change: 'added', risk: 'warn' }, { actual: a[key] });
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
      push(ctx, { segments: p, change: 'removed', risk: 'fail' }, { golden: g[i] });
  }
  for (let i = n; i < a.length; i++) {
    const p = [...segs, i];
    if (!ctx.rules.ignore.covers(p))
      push(ctx, { segments: p, change: 'added', risk: changedRisk(ctx, segs) }, { actual: a[i] });
  }
}

/** Canonical text of a value with id numbers dropped: equal shapes match regardless of order. */
function shapeKey(v: unknown): string {
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
    push(ctx, { segments: [...segs, i], change: 'removed', risk: 'fail' }, { golden: g[i] });
  for (const j of as.slice(n))
    push(ctx, { segments: [...segs, j], change: 'added', risk: changedRisk(ctx, segs) }, { actual: a[j] });
}
