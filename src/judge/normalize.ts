/**
 * Noise normalisers: generated values are replaced by placeholders before goldens are written
 * and before traces are compared with them.
 *
 * - ISO-8601 / Postgres timestamps (with a time part) → `<timestamp>` (no identity: two
 *   timestamps that happened to be equal once need not be equal again).
 * - UUIDs → `<uuid:N>`, ULIDs → `<ulid:N>`, numbered in order of first appearance across the
 *   WHOLE document (all probes, sorted by name), so relationships survive: the same id in two
 *   places gets the same placeholder and a swapped id is still caught (diff.ts compares the
 *   numbers through a one-to-one mapping, so a consistently renamed id is not a difference).
 */
import { isLosslessNumber } from '../util/exact-json.js';

const UUID = /\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b/g;
const ULID = /\b[0-7][0-9A-HJKMNP-TV-Z]{25}\b/g;
const TIMESTAMP =
  /\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?(?![\d:])/g;

/** Matches placeholders inside normalised strings. */
const PLACEHOLDER = /<(uuid|ulid):(\d+)>|<timestamp>/g;

export class Normalizer {
  private readonly ids = { uuid: new Map<string, number>(), ulid: new Map<string, number>() };

  private id(kind: 'uuid' | 'ulid', value: string): string {
    const map = this.ids[kind];
    const key = value.toLowerCase();
    let n = map.get(key);
    if (n === undefined) {
      n = map.size + 1;
      map.set(key, n);
    }
    return `<${kind}:${n}>`;
  }

  string(s: string): string {
    return s
      .replace(UUID, (m) => this.id('uuid', m))
      .replace(ULID, (m) => this.id('ulid', m))
      .replace(TIMESTAMP, '<timestamp>');
  }

  /** Deep copy with every string normalised (object keys are left as they are). */
  value(v: unknown): unknown {
    if (typeof v === 'string') return this.string(v);
    if (v === null || typeof v !== 'object' || isLosslessNumber(v)) return v;
    if (Array.isArray(v)) return v.map((x) => this.value(x));
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = this.value((v as Record<string, unknown>)[k]);
    return out;
  }
}

/** The string with id numbers dropped (`<uuid:3>` → `<uuid>`): its shape, for matching. */
export function skeleton(s: string): string {
  return s.replace(PLACEHOLDER, (_m, kind?: string) => (kind ? `<${kind}>` : '<timestamp>'));
}

/** The id placeholders of a normalised string, in order ("uuid:3"). */
export function idTokens(s: string): string[] {
  const out: string[] = [];
  for (const m of s.matchAll(PLACEHOLDER)) if (m[1]) out.push(`${m[1]}:${m[2]}`);
  return out;
}
