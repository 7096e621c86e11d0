/**
 * Subject rewrite (`--rewrite-subject k=v`, `--use-local-subject`), the original tool's rule:
 * a value equal to the capsule's subject value for key `k` is replaced by the new value in every
 * field whose normalized name (lower-case, non-alphanumerics removed) contains the normalized key,
 * at any depth; array elements count under their parent's field name. So with key `user_id`,
 * `target_user_id` and `senderUserId` match; `label` does not, even when it holds the same text.
 * Only whole values are replaced (never substrings), so hashed (redacted) values stay as they are.
 *
 * Extension: the original compared only JSON strings; a subject key on an integer column appears
 * as a JSON number in the rows, so a number whose exact text equals the subject value is replaced
 * too (by a number when the new value is numeric, else by a string).
 */
import { InputError } from '../errors.js';
import { type ExactJson, isLosslessNumber, LosslessNumber } from '../util/exact-json.js';

const JSON_INTEGER = /^-?(0|[1-9]\d*)$/;

export interface SubjectRewrite {
  /** The capsule's subject values of the rewritten keys. */
  from: Record<string, string>;
  /** Their replacements. */
  to: Record<string, string>;
}

/** Lower-case, non-alphanumerics removed: `senderUserId` and `sender_user_id` → `senderuserid`. */
export function normalizeFieldName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, '');
}

/**
 * The rewrite to apply, from the capsule subject and the requested new values. `requested` keys
 * must be subject keys of the manifest (else InputError, exit 2). Keys whose value does not change
 * are left out; returns null when nothing changes.
 */
export function planSubjectRewrite(
  subjectKeys: readonly string[],
  capsuleSubject: Record<string, string>,
  requested: Record<string, string>,
  source = '--rewrite-subject',
): SubjectRewrite | null {
  const unknown = Object.keys(requested).filter((k) => !subjectKeys.includes(k));
  if (unknown.length > 0) {
    throw new InputError(
      `${source}: ${unknown.map((k) => JSON.stringify(k)).join(', ')} ${unknown.length === 1 ? 'is not a subject key' : 'are not subject keys'}; the manifest's subjectKeys are ${subjectKeys.map((k) => JSON.stringify(k)).join(', ')}`,
    );
  }
  const from: Record<string, string> = {};
  const to: Record<string, string> = {};
  for (const key of subjectKeys) {
    if (!(key in requested)) continue;
    const old = capsuleSubject[key];
    if (old === undefined) throw new InputError(`capsule subject has no value for subject key "${key}"`);
    if (old === requested[key]) continue;
    from[key] = old;
    to[key] = requested[key]!;
  }
  return Object.keys(from).length === 0 ? null : { from, to };
}

/**
 * Applies a rewrite to row objects (and graph entries). Field-name matches are cached, so a
 * rewriter is cheap to call for millions of rows. Counts how many values it replaced.
 */
export class SubjectRewriter {
  private readonly keys: { norm: string; from: string; to: ExactJson }[];
  private readonly cache = new Map<string, { from: string; to: ExactJson }[]>();
  /** Values replaced so far. */
  replaced = 0;

  constructor(readonly rewrite: SubjectRewrite) {
    this.keys = Object.keys(rewrite.from).map((k) => {
      const to = rewrite.to[k]!;
      return {
        norm: normalizeFieldName(k),
        from: rewrite.from[k]!,
        to: to,
      };
    });
  }

  private matchesFor(field: string): { from: string; to: ExactJson }[] {
    let m = this.cache.get(field);
    if (!m) {
      const norm = normalizeFieldName(field);
      m = this.keys.filter((k) => norm.includes(k.norm)).map((k) => ({ from: k.from, to: k.to }));
      this.cache.set(field, m);
    }
    return m;
  }

  /** Rewrites an object's fields in place (recursively) and returns it. */
  rewriteObject<T extends Record<string, unknown>>(obj: T): T {
    for (const field of Object.keys(obj)) {
      const v = obj[field];
      if (v === null || typeof v === 'boolean') continue;
      const next = this.rewriteValue(v, field);
      if (next !== v) (obj as Record<string, unknown>)[field] = next;
    }
    return obj;
  }

  private rewriteValue(v: unknown, field: string): unknown {
    if (typeof v === 'string') {
      for (const m of this.matchesFor(field)) {
        if (v === m.from) {
          this.replaced++;
          return m.to;
        }
      }
      return v;
    }
    if (typeof v === 'number' || isLosslessNumber(v)) {
      const text = typeof v === 'number' ? String(v) : (v as LosslessNumber).value;
      for (const m of this.matchesFor(field)) {
        if (text === m.from) {
          this.replaced++;
          const to = m.to as string;
          // Only a valid JSON integer becomes a number: `0042` is not JSON (LosslessNumber threw
          // "Invalid number" and crashed materialize; found by test/property/rewrite.property.test.ts).
          return JSON_INTEGER.test(to) ? new LosslessNumber(to) : to;
        }
      }
      return v;
    }
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const e = v[i];
        if (e === null || typeof e === 'boolean') continue;
        const next = this.rewriteValue(e, field);
        if (next !== e) v[i] = next;
      }
      return v;
    }
    if (v && typeof v === 'object') return this.rewriteObject(v as Record<string, unknown>);
    return v;
  }
}
