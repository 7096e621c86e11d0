/**
 * Redaction properties (src/redaction/redact.ts; MANIFEST.md "Redaction actions"): deterministic,
 * idempotent (for every action but hash/hmac, which hash their input again by design), no matched
 * field left unredacted at any depth, and fields no rule matches never touched.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import type { RedactionRule } from '../../src/manifest/schema.js';
import { buildRedactor } from '../../src/redaction/redact.js';
import { type ExactJson, isPlainObject, LosslessNumber, stringifyExact } from '../../src/util/exact-json.js';
import { cloneExact, exactJson, exactRow, objectOf } from './arbitraries.js';

const RUNS = { numRuns: Number(process.env.PROP_RUNS ?? 300) };
const ENV = { REPLAY_TEST_HMAC_KEY: 'k3y' };
/** Field names rules match: ordinary, and ones that are awkward as JS keys. */
const FIELDS = ['email', 'token', 'a b', '__proto__', '0', '\u00e9', 'constructor'];
/** Keys rows carry: the rule fields, their other-case variants (matching is case-sensitive). */
const ROW_KEYS = fc.constantFrom(...FIELDS, 'EMAIL', 'Email', 'TOKEN', '\u00c9', 'email ', 'e-mail');
const TABLES = ['users', 'orders'] as const;

const ACTIONS = ['empty', 'null', 'empty_object', 'empty_array', 'hash', 'hmac', 'mask', 'constant'] as const;
type Action = (typeof ACTIONS)[number];

function ruleArb(actions: readonly Action[]): fc.Arbitrary<RedactionRule> {
  return fc
    .record(
      {
        table: fc.constantFrom(...TABLES),
        fields: fc.subarray(FIELDS, { minLength: 1, maxLength: 3 }),
        action: fc.constantFrom(...actions),
        prefix: fc.constantFrom('replay-', 'h:', ''),
        recursive: fc.boolean(),
        keep: fc.nat({ max: 6 }),
        maskChar: fc.constantFrom('*', '#', 'x'),
        // Constants are often objects holding rule fields: buildRedactor must refuse those.
        value: fc.oneof(
          exactJson({ maxDepth: 2, keys: fc.constantFrom(...FIELDS) }),
          objectOf(fc.constantFrom(...FIELDS, 'other'), exactJson({ maxDepth: 1 }), 2),
        ),
      },
      { requiredKeys: ['fields', 'action'] },
    )
    .map((r) => {
      const out: RedactionRule = { fields: r.fields, action: r.action };
      if (r.table !== undefined) out.table = r.table;
      if (r.recursive !== undefined) out.recursive = r.recursive;
      if (r.action === 'hash' || r.action === 'hmac') if (r.prefix !== undefined) out.prefix = r.prefix;
      if (r.action === 'hmac') out.keyEnv = 'REPLAY_TEST_HMAC_KEY';
      if (r.action === 'mask') {
        if (r.keep !== undefined) out.keep = r.keep;
        if (r.maskChar !== undefined) out.maskChar = r.maskChar;
      }
      if (r.action === 'constant' && r.value !== undefined) out.value = r.value;
      return out;
    });
}

/** The redactor, or null when it (rightly) refuses the rule set. */
function redactor(rules: RedactionRule[]) {
  try {
    return buildRedactor(rules, { env: ENV });
  } catch (err) {
    if (err instanceof InputError) return null;
    throw err;
  }
}

const applicable = (rules: RedactionRule[], table: string) =>
  rules.filter((r) => r.table === undefined || r.table === table);

/** Rules (in order) that match `key` where it is: top-level columns, or deeper for recursive rules. */
const matching = (rules: RedactionRule[], key: string, top: boolean) =>
  rules.filter((r) => r.fields.includes(key) && (r.recursive !== false || top));

/** The row with every matched value replaced by a placeholder (and not descended into). */
function unmatchedPart(v: ExactJson, rules: RedactionRule[], top: boolean): unknown {
  if (Array.isArray(v)) return v.map((x) => unmatchedPart(x, rules, false));
  if (!isPlainObject(v)) return v;
  const out: [string, unknown][] = [];
  for (const k of Object.keys(v)) {
    const val = (v as Record<string, ExactJson>)[k]!;
    out.push([k, matching(rules, k, top).length > 0 ? '<matched>' : unmatchedPart(val, rules, false)]);
  }
  return out;
}

/** True when `v` is what `rule` writes (or a value rules leave alone: null and ""). */
function isRedactedBy(rule: RedactionRule, v: ExactJson): boolean {
  if (v === null || v === '') return true;
  switch (rule.action ?? 'empty') {
    case 'empty':
    case 'null':
      return false;
    case 'empty_object':
      return isPlainObject(v) && Object.keys(v).length === 0;
    case 'empty_array':
      return Array.isArray(v) && v.length === 0;
    case 'constant':
      return stringifyExact(v) === stringifyExact(rule.value ?? null);
    case 'hash':
    case 'hmac': {
      const prefix = rule.prefix ?? 'replay-';
      return typeof v === 'string' && v.startsWith(prefix) && /^[0-9a-f]{12}$/.test(v.slice(prefix.length));
    }
    case 'mask': {
      if (typeof v !== 'string') return false;
      const cps = Array.from(v);
      const keep = rule.keep ?? 4;
      const masked = cps.length > keep ? cps.length - keep : cps.length;
      return cps.slice(0, masked).every((c) => c === (rule.maskChar ?? '*'));
    }
  }
}

/** Paths (for messages) of matched fields whose value is not what the last matching rule writes. */
function unredacted(
  v: ExactJson,
  rules: RedactionRule[],
  top: boolean,
  path: string,
  out: string[],
): string[] {
  if (Array.isArray(v)) for (const [i, x] of v.entries()) unredacted(x, rules, false, `${path}[${i}]`, out);
  else if (isPlainObject(v))
    for (const k of Object.keys(v)) {
      const val = (v as Record<string, ExactJson>)[k]!;
      const m = matching(rules, k, top);
      // Rules run in order and each replaces the whole value: the last one that reaches it decides.
      if (m.length > 0 && !isRedactedBy(m[m.length - 1]!, val)) out.push(`${path}.${JSON.stringify(k)}`);
      unredacted(val, rules, false, `${path}.${JSON.stringify(k)}`, out);
    }
  return out;
}

const rowArb = exactRow({ keys: ROW_KEYS, maxDepth: 4 });
const tableArb = fc.constantFrom(...TABLES);

describe('redaction properties', () => {
  it('is deterministic: the same row and rules give the same output (hash and hmac included)', () => {
    fc.assert(
      fc.property(
        fc.array(ruleArb(ACTIONS), { minLength: 1, maxLength: 4 }),
        rowArb,
        tableArb,
        (rules, row, table) => {
          const a = redactor(rules);
          const b = redactor(rules);
          if (!a || !b) return;
          const once = stringifyExact(a.redactRow(table, cloneExact(row)));
          expect(stringifyExact(b.redactRow(table, cloneExact(row)))).toBe(once);
          expect(stringifyExact(a.redactRow(table, cloneExact(row)))).toBe(once);
        },
      ),
      RUNS,
    );
  });

  it('is idempotent: redacting a redacted row changes nothing (every action but hash/hmac)', () => {
    const actions = ACTIONS.filter((a) => a !== 'hash' && a !== 'hmac');
    fc.assert(
      fc.property(
        fc.array(ruleArb(actions), { minLength: 1, maxLength: 4 }),
        rowArb,
        tableArb,
        (rules, row, table) => {
          const r = redactor(rules);
          if (!r) return;
          const once = r.redactRow(table, cloneExact(row));
          const onceText = stringifyExact(once);
          expect(stringifyExact(r.redactRow(table, once))).toBe(onceText);
        },
      ),
      RUNS,
    );
  });

  it('hash/hmac: a second pass touches only the values the first pass replaced', () => {
    fc.assert(
      fc.property(
        fc.array(ruleArb(ACTIONS), { minLength: 1, maxLength: 4 }),
        rowArb,
        tableArb,
        (rules, row, table) => {
          const r = redactor(rules);
          if (!r) return;
          const first = new Set<string>();
          const once = r.redactRow(table, cloneExact(row), (p) => first.add(p));
          const second: string[] = [];
          r.redactRow(table, cloneExact(once), (p) => second.push(p));
          expect(second.filter((p) => !first.has(p))).toEqual([]);
        },
      ),
      RUNS,
    );
  });

  it('never leaves a matched field unredacted, at any depth, and never touches unmatched fields', () => {
    fc.assert(
      fc.property(
        fc.array(ruleArb(ACTIONS), { minLength: 1, maxLength: 4 }),
        rowArb,
        tableArb,
        (rules, row, table) => {
          const r = redactor(rules);
          if (!r) return;
          const rulesHere = applicable(rules, table);
          const out = r.redactRow(table, cloneExact(row));
          expect(unredacted(out, rulesHere, true, '$', [])).toEqual([]);
          expect(JSON.stringify(unmatchedPart(out, rulesHere, true))).toBe(
            JSON.stringify(unmatchedPart(row, rulesHere, true)),
          );
          // `__proto__` stayed an own data property; nothing reached a prototype.
          expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
        },
      ),
      RUNS,
    );
  });

  it('a rule set that does not apply to a table leaves its rows byte-identical', () => {
    fc.assert(
      fc.property(fc.array(ruleArb(ACTIONS), { minLength: 1, maxLength: 3 }), rowArb, (rules, row) => {
        const scoped = rules.map((x) => ({ ...x, table: 'users' }));
        const r = redactor(scoped);
        if (!r) return;
        expect(stringifyExact(r.redactRow('orders', cloneExact(row)))).toBe(stringifyExact(row));
      }),
      { numRuns: 100 },
    );
  });
});

describe('redaction regressions (counterexamples the properties found)', () => {
  it('a constant number stays a JSON number (structuredClone turned a LosslessNumber into an object)', () => {
    const r = buildRedactor([{ fields: ['email', '0'], action: 'constant', value: new LosslessNumber('0') }]);
    expect(stringifyExact(r.redactRow('users', { email: '\\', '0': 'x' }))).toBe('{"0":0,"email":0}');
  });

  it('refuses a constant that holds a field an earlier rule redacts (it would be written unredacted)', () => {
    expect(() =>
      buildRedactor([
        { fields: ['a b', 'constructor'], action: 'empty' },
        { fields: ['0', '\u00e9'], action: 'constant', value: { 'a b': 0 } },
      ]),
    ).toThrow(
      /redactionRules\[1\]: the constant value holds the field "a b", which redactionRules\[0\] redacts/,
    );
  });

  it('refuses a constant that holds its own field (every pass would nest it one level deeper)', () => {
    expect(() =>
      buildRedactor([{ fields: ['\u00e9'], action: 'constant', value: { '\u00e9': {} } }]),
    ).toThrow(InputError);
  });

  it('allows such a field when it is null or "" (left alone), or when the rules never meet', () => {
    const r = buildRedactor([
      { fields: ['profile'], action: 'constant', value: { profile: '', email: null } },
      { fields: ['email'], action: 'hash' },
      { table: 'orders', fields: ['x'], action: 'constant', value: { card: 'n/a' } },
      { table: 'users', fields: ['card'], action: 'empty' },
      { fields: ['y'], action: 'constant', value: { id: 'n/a' } },
      { fields: ['id'], action: 'empty', recursive: false },
    ]);
    const once = stringifyExact(r.redactRow('users', { profile: { email: 'a@b.c' } }));
    expect(once).toBe('{"profile":{"profile":"","email":null}}');
    expect(stringifyExact(r.redactRow('users', parseRow(once)))).toBe(once);
  });
});

function parseRow(text: string): Record<string, ExactJson> {
  return JSON.parse(text) as Record<string, ExactJson>;
}
