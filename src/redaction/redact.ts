/**
 * Redaction rules (manifest `redactionRules`), applied to exported rows.
 *
 * Semantics of the original tool, reproduced exactly:
 * - rules apply in manifest order, each to every row of every table (or only `table`);
 * - a field matches by exact, case-sensitive key name, at any depth through nested objects and
 *   arrays unless `recursive: false` (then only top-level columns);
 * - null and "" values are left alone, whatever the action;
 * - a matched value is replaced as a whole (its children are not visited by that rule).
 *
 * Actions: empty → "", null → null, empty_object → {}, empty_array → [],
 * hash → prefix (default "replay-") + first 12 hex chars of sha256 — of the UTF-8 string, or for
 * a non-string of its compact JSON text with the numbers exactly as exported (the original used
 * doubles, so its hash of e.g. `{"ratio":1.10}` differs; strings hash identically).
 * Extensions: hmac (keyed sha256, key from an env var; default prefix "replay-"), mask (keep the
 * last `keep` characters, default 4, the rest `maskChar`, default "*"), constant (`value`).
 */
import { createHash, createHmac } from 'node:crypto';
import { InputError } from '../errors.js';
import type { RedactionRule } from '../manifest/schema.js';
import { type ExactJson, isLosslessNumber, stringifyExact } from '../util/exact-json.js';

type RedactionAction = NonNullable<RedactionRule['action']>;
type Row = Record<string, ExactJson>;
type Replace = (value: ExactJson) => ExactJson;

const DEFAULT_HASH_PREFIX = 'replay-';

/** sha256 hash as the original tool wrote it: prefix + 12 hex chars. */
export function hashValue(value: ExactJson, prefix = DEFAULT_HASH_PREFIX): string {
  return prefix + createHash('sha256').update(hashInput(value), 'utf8').digest('hex').slice(0, 12);
}

export function hmacValue(value: ExactJson, key: string, prefix = DEFAULT_HASH_PREFIX): string {
  return prefix + createHmac('sha256', key).update(hashInput(value), 'utf8').digest('hex').slice(0, 12);
}

function hashInput(value: ExactJson): string {
  return typeof value === 'string' ? value : stringifyExact(value);
}

export function maskValue(value: ExactJson, keep = 4, maskChar = '*'): string {
  const chars = Array.from(hashInput(value)); // by code point: never split a surrogate pair
  const kept = keep > 0 && chars.length > keep ? chars.slice(chars.length - keep) : [];
  return maskChar.repeat(chars.length - kept.length) + kept.join('');
}

interface CompiledRule {
  index: number;
  table: string | undefined;
  fields: Set<string>;
  recursive: boolean;
  replace: Replace;
}

export interface RedactorOptions {
  /** Environment to read hmac keys from (the front door passes io.env). */
  env?: Record<string, string | undefined>;
}

/** Called with the JSON path (`column.nested[0].key`) of every value a rule replaced. */
type OnRedacted = (path: string) => void;

export interface Redactor {
  /** True when at least one rule applies to this table. */
  appliesTo(table: string): boolean;
  /** Every field name a rule for this table matches. */
  fieldsFor(table: string): string[];
  /** Redacts the row in place and returns it. */
  redactRow(table: string, row: Row, onRedacted?: OnRedacted): Row;
}

function compileRule(
  rule: RedactionRule,
  index: number,
  env: Record<string, string | undefined>,
): CompiledRule {
  const action: RedactionAction = rule.action ?? 'empty';
  let replace: Replace;
  switch (action) {
    case 'empty':
      replace = () => '';
      break;
    case 'null':
      replace = () => null;
      break;
    case 'empty_object':
      replace = () => ({});
      break;
    case 'empty_array':
      replace = () => [];
      break;
    case 'hash': {
      const prefix = rule.prefix ?? DEFAULT_HASH_PREFIX;
      replace = (v) => hashValue(v, prefix);
      break;
    }
    case 'hmac': {
      const name = rule.keyEnv;
      const key = name ? env[name] : undefined;
      if (!name || !key) {
        throw new InputError(
          `redactionRules[${index}]: action "hmac" needs its key in the environment variable ${name ?? '(keyEnv not set)'}, which is ${name ? 'not set or empty' : 'missing from the rule'}`,
        );
      }
      const prefix = rule.prefix ?? DEFAULT_HASH_PREFIX;
      replace = (v) => hmacValue(v, key, prefix);
      break;
    }
    case 'mask': {
      const keep = rule.keep ?? 4;
      const ch = rule.maskChar ?? '*';
      replace = (v) => maskValue(v, keep, ch);
      break;
    }
    case 'constant': {
      const value = (rule.value ?? null) as ExactJson;
      replace = () => cloneJson(value);
      break;
    }
  }
  return {
    index,
    table: rule.table,
    fields: new Set(rule.fields),
    recursive: rule.recursive ?? true,
    replace,
  };
}

export function buildRedactor(rules: RedactionRule[], options: RedactorOptions = {}): Redactor {
  const compiled = rules.map((r, i) => compileRule(r, i, options.env ?? {}));
  checkConstants(rules);
  const perTable = new Map<string, CompiledRule[]>();
  const forTable = (table: string) => {
    let list = perTable.get(table);
    if (!list) {
      list = compiled.filter((r) => r.table === undefined || r.table === table);
      perTable.set(table, list);
    }
    return list;
  };
  return {
    appliesTo: (table) => forTable(table).length > 0,
    fieldsFor: (table) => forTable(table).flatMap((r) => [...r.fields]),
    redactRow(table, row, onRedacted) {
      for (const rule of forTable(table)) applyToObject(row, '', rule, onRedacted);
      return row;
    },
  };
}

/**
 * A `constant` value must not itself hold a field (with a value other than null or "") that a
 * recursive rule for the same table matches: that field would be written unredacted (a rule earlier in the list has already run),
 * and redacting the row again would change it (or, for a rule matching its own field, nest the
 * constant one level deeper on every pass). Found by test/property/redaction.property.test.ts.
 */
function checkConstants(rules: RedactionRule[]): void {
  rules.forEach((rule, i) => {
    if ((rule.action ?? 'empty') !== 'constant') return;
    const keys = new Set<string>();
    collectKeys(rule.value as ExactJson | undefined, keys);
    if (keys.size === 0) return;
    rules.forEach((other, j) => {
      if (other.recursive === false) return; // only top-level columns; a constant is never one
      if (rule.table !== undefined && other.table !== undefined && rule.table !== other.table) return;
      const hit = other.fields.find((f) => keys.has(f));
      if (hit === undefined) return;
      throw new InputError(
        `redactionRules[${i}]: the constant value holds the field ${JSON.stringify(hit)}, which redactionRules[${j}] redacts${j === i ? ' (the rule itself)' : ''}; a redacted value must not contain fields that are redacted themselves`,
      );
    });
  });
}

function collectKeys(v: ExactJson | undefined, into: Set<string>): void {
  if (v === null || v === undefined || typeof v !== 'object' || isLosslessNumber(v)) return;
  if (Array.isArray(v)) {
    for (const x of v) collectKeys(x, into);
    return;
  }
  for (const k of Object.keys(v)) {
    if (!isUntouchable(v[k])) into.add(k); // null and "" are left alone by every rule
    collectKeys(v[k], into);
  }
}

/**
 * Deep copy of a JSON value. Not structuredClone: it turns a LosslessNumber into a plain
 * `{"value":…,"isLosslessNumber":true}` object, which would be written into the capsule as such.
 */
function cloneJson(v: ExactJson): ExactJson {
  if (v === null || typeof v !== 'object' || isLosslessNumber(v)) return v;
  if (Array.isArray(v)) return v.map(cloneJson);
  const out: Row = {};
  for (const k of Object.keys(v))
    Object.defineProperty(out, k, {
      value: cloneJson(v[k]!),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  return out;
}

function isUntouchable(v: ExactJson | undefined): boolean {
  return v === null || v === undefined || v === '';
}

function applyToObject(obj: Row, path: string, rule: CompiledRule, onRedacted: OnRedacted | undefined): void {
  for (const key of Object.keys(obj)) {
    const v = obj[key]!;
    const here = path ? `${path}.${key}` : key;
    if (rule.fields.has(key)) {
      if (!isUntouchable(v)) {
        obj[key] = rule.replace(v);
        onRedacted?.(here);
      }
      continue;
    }
    if (rule.recursive) descend(v, here, rule, onRedacted);
  }
}

function descend(v: ExactJson, path: string, rule: CompiledRule, onRedacted: OnRedacted | undefined): void {
  if (v === null || typeof v !== 'object' || isLosslessNumber(v)) return;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) descend(v[i]!, `${path}[${i}]`, rule, onRedacted);
    return;
  }
  applyToObject(v as Row, path, rule, onRedacted);
}
