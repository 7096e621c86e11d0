/**
 * fast-check arbitraries shared by the property tests: exact JSON values (numbers as
 * LosslessNumbers with any JSON number text), hostile strings and hostile object keys.
 *
 * Objects are built with Object.defineProperty, so a `__proto__` key is an own property (as the
 * capsule reader and lossless-json build them), never a prototype change.
 */
import fc from 'fast-check';
import { type ExactJson, LosslessNumber } from '../../src/util/exact-json.js';

/** Every JSON number form: big integers, long fractions, exponents, -0, 1e400. */
export const numberText: fc.Arbitrary<string> = fc.oneof(
  fc.stringMatching(/^-?(0|[1-9][0-9]{0,40})(\.[0-9]{1,40})?([eE][+-]?[0-9]{1,3})?$/),
  fc.bigInt({ min: -(1n << 100n), max: 1n << 100n }).map(String),
  fc.constantFrom(
    '-0',
    '0',
    '-0.0',
    '1e400',
    '-1e400',
    '1E+2',
    '1.5e-10',
    '1.10',
    '9007199254740993',
    '-9007199254740993',
    '18446744073709551616',
    '123456789012345678901234567890.123456789012345678901234567890',
  ),
);

export const exactNumber = numberText.map((t) => new LosslessNumber(t));

/** Characters that break naive escaping (SQL, COPY, JSON, shells). NUL and lone surrogates are opt-in. */
const NASTY_UNITS = [
  '\\',
  '"',
  "'",
  '\n',
  '\r',
  '\t',
  '\\N',
  '\\.',
  'N',
  '.',
  ',',
  '{',
  '}',
  ';',
  '$$',
  '--',
  '/*',
  ' ',
  '\u2028',
  '\u00e9',
  'e\u0301',
  '\u{1F600}',
  '\u{10FFFF}',
  '\u00a0',
  '\u0001',
  '\u007f',
  '\ufeff',
  'NULL',
];

export interface StringOptions {
  /** Include U+0000 (Postgres text cannot store it). */
  nul?: boolean;
  /** Include lone surrogates (not valid UTF-8 when encoded). */
  loneSurrogates?: boolean;
  maxLength?: number;
}

export function hostileString(options: StringOptions = {}): fc.Arbitrary<string> {
  const units: string[] = [...NASTY_UNITS];
  if (options.nul) units.push('\u0000');
  if (options.loneSurrogates) units.push('\ud800', '\udfff', '\udbff');
  const maxLength = options.maxLength ?? 12;
  return fc.oneof(
    fc.string({ unit: fc.constantFrom(...units), maxLength }),
    fc.string({ unit: 'binary', maxLength }).filter((s) => options.nul || !s.includes('\u0000')),
    fc
      .string({
        unit: fc.oneof(fc.constantFrom(...units), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })),
        maxLength,
      })
      .filter((s) => options.nul || !s.includes('\u0000')),
  );
}

/** Keys that trip up JS objects and naive matchers. */
export const SPECIAL_KEYS = [
  '',
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  '0',
  '1',
  '01',
  '-1',
  '4294967295',
  '1.5',
  'a.b',
  'a[0]',
  ' ',
  '\u00e9',
  '\u{1F600}',
  'k\u0000',
];

export function objectOf<V>(
  key: fc.Arbitrary<string>,
  value: fc.Arbitrary<V>,
  maxKeys = 5,
): fc.Arbitrary<Record<string, V>> {
  return fc
    .uniqueArray(fc.tuple(key, value), { selector: (e) => e[0], maxLength: maxKeys })
    .map((entries) => {
      const o: Record<string, V> = {};
      for (const [k, v] of entries)
        Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
      return o;
    });
}

export interface JsonOptions extends StringOptions {
  /** Extra keys mixed into the generated ones (e.g. field names a rule matches). */
  keys?: fc.Arbitrary<string>;
  maxDepth?: number;
  maxKeys?: number;
}

/** Any exact JSON value. */
export function exactJson(options: JsonOptions = {}): fc.Arbitrary<ExactJson> {
  const key = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 6 }).filter((s) => options.nul || !s.includes('\u0000')),
    fc.constantFrom(...SPECIAL_KEYS.filter((k) => options.nul || !k.includes('\u0000'))),
    ...(options.keys ? [options.keys, options.keys] : []),
  );
  const { value } = fc.letrec<{ value: ExactJson }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', maxDepth: options.maxDepth ?? 4 },
      fc.constant(null),
      fc.boolean(),
      hostileString(options),
      exactNumber,
      fc.array(tie('value'), { maxLength: 4 }),
      objectOf(key, tie('value'), options.maxKeys ?? 5),
    ),
  }));
  return value;
}

/** A row: a JSON object at the top. */
export function exactRow(options: JsonOptions = {}): fc.Arbitrary<Record<string, ExactJson>> {
  const key = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 6 }).filter((s) => options.nul || !s.includes('\u0000')),
    fc.constantFrom(...SPECIAL_KEYS.filter((k) => options.nul || !k.includes('\u0000'))),
    ...(options.keys ? [options.keys, options.keys] : []),
  );
  return objectOf(key, exactJson(options), options.maxKeys ?? 6);
}

/** Deep copy keeping LosslessNumbers and own `__proto__` keys. */
export function cloneExact<T>(v: T): T {
  if (v === null || typeof v !== 'object' || v instanceof LosslessNumber) return v;
  if (Array.isArray(v)) return v.map(cloneExact) as T;
  const o: Record<string, unknown> = {};
  for (const k of Object.keys(v))
    Object.defineProperty(o, k, {
      value: cloneExact((v as Record<string, unknown>)[k]),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  return o as T;
}
