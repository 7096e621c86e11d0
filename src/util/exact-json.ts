/**
 * Exact JSON: numbers keep every digit.
 *
 * `JSON.parse` turns 9007199254740993 into 9007199254740992 and 1.10 into 1.1. Capsule rows
 * must round-trip exactly, so row values are parsed with lossless-json: every number becomes a
 * `LosslessNumber` holding its original text, and `stringifyExact` writes that text back unchanged.
 */
import { isLosslessNumber, LosslessNumber, parse, stringify } from 'lossless-json';

export { isLosslessNumber, LosslessNumber };

/** A JSON value whose numbers are `LosslessNumber`s. */
export type ExactJson = null | boolean | string | LosslessNumber | ExactJson[] | { [key: string]: ExactJson };

export function parseExact(text: string): ExactJson {
  return parse(text) as ExactJson;
}

/** Compact JSON text with numbers exactly as they were read. */
export function stringifyExact(value: unknown, indent?: number): string {
  const out = stringify(value as never, undefined, indent);
  if (out === undefined) throw new TypeError('value cannot be represented as JSON');
  return out;
}

/** Plain JS value (numbers as JS numbers, possibly lossy) for display or comparisons that tolerate it. */
export function toPlain(value: unknown): unknown {
  if (isLosslessNumber(value)) {
    const n = Number((value as LosslessNumber).value);
    return Number.isSafeInteger(n) || !/^-?\d+$/.test((value as LosslessNumber).value)
      ? n
      : (value as LosslessNumber).value;
  }
  if (Array.isArray(value)) return value.map(toPlain);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = toPlain(v);
    return out;
  }
  return value;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !isLosslessNumber(value);
}
