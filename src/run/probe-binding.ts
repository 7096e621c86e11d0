/**
 * Binding subject placeholders (manifest/placeholders.ts) into one probe, safely for where each
 * stands: URL-encoded in URLs, raw (but never with CR/LF) in header values, JSON-encoded inside a
 * JSON body's strings, bind parameters in SQL, one argv entry per command argument. The manifest
 * check already refused unknown placeholders; a source this run lacks (no capsule) is a probe error.
 */

import {
  knownPlaceholders,
  type Placeholder,
  type PlaceholderSource,
  sqlSegments,
} from '../manifest/placeholders.js';
import type { ManifestProbe } from '../manifest/schema.js';

export type SubjectValues = Partial<Record<PlaceholderSource, Record<string, string>>>;

export interface BoundProbe {
  /** The probe with its url/headers/body/args/env bound (an sql probe keeps its query text). */
  probe: ManifestProbe;
  /** sql probes: the query with $n parameters and their values. */
  sql?: { text: string; params: string[] };
}

class BindError extends Error {}

/** The subject values of a run: the capsule's subject, the rewrite applied, the manifest's localSubject. */
export function subjectValues(input: {
  capsuleSubject?: Record<string, string>;
  rewriteTo?: Record<string, string>;
  localSubject?: Record<string, string>;
}): SubjectValues {
  const out: SubjectValues = {};
  if (input.capsuleSubject) {
    out.capsuleSubject = { ...input.capsuleSubject };
    out.subject = { ...input.capsuleSubject, ...(input.rewriteTo ?? {}) };
  }
  if (input.localSubject) out.localSubject = { ...input.localSubject };
  return out;
}

function placeholderValue(p: Placeholder, values: SubjectValues): string {
  const source = values[p.source];
  if (!source)
    throw new BindError(
      p.source === 'localSubject'
        ? `${p.text}: the manifest has no localSubject`
        : `${p.text}: this run has no capsule, so there is no subject to bind`,
    );
  const v = source[p.key];
  if (v === undefined) throw new BindError(`${p.text}: the ${p.source} has no key ${p.key}`);
  return v;
}

function substitute(text: string, values: SubjectValues, encode: (v: string) => string): string {
  const found = knownPlaceholders(text);
  if (!found.length) return text;
  let out = '';
  let at = 0;
  for (const p of found) {
    out += text.slice(at, p.index) + encode(placeholderValue(p, values));
    at = p.index + p.text.length;
  }
  return out + text.slice(at);
}

const asIs = (v: string) => v;

function headerValue(v: string): string {
  if (/[\r\n\0]/.test(v)) throw new BindError('a subject value with a line break cannot go into a header');
  return v;
}

function bindJson(v: unknown, values: SubjectValues): unknown {
  if (typeof v === 'string') return substitute(v, values, asIs);
  if (Array.isArray(v)) return v.map((x) => bindJson(x, values));
  if (v && typeof v === 'object')
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, bindJson(x, values)]));
  return v;
}

function bindMap(m: Record<string, string> | undefined, values: SubjectValues, encode = asIs) {
  if (!m) return undefined;
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, substitute(v, values, encode)]));
}

/** The query with each distinct placeholder replaced by $n (outside quotes only), and the values. */
function bindSql(query: string, values: SubjectValues): { text: string; params: string[] } {
  const params: string[] = [];
  const numbers = new Map<string, number>();
  let text = '';
  for (const seg of sqlSegments(query)) {
    if (!seg.code) {
      text += seg.text;
      continue;
    }
    text += substitute(seg.text, values, (v) => {
      const key = `\u0000${v}`;
      let n = numbers.get(key);
      if (n === undefined) {
        params.push(v);
        n = params.length;
        numbers.set(key, n);
      }
      return `$${n}`;
    });
  }
  return { text, params };
}

function bind(probe: ManifestProbe, values: SubjectValues): BoundProbe {
  switch (probe.kind) {
    case 'http': {
      const bound = { ...probe, url: substitute(probe.url, values, encodeURIComponent) };
      if (probe.headers) bound.headers = bindMap(probe.headers, values, headerValue);
      if (probe.body !== undefined)
        bound.body = bindJson(probe.body, values) as NonNullable<typeof probe.body>;
      return { probe: bound };
    }
    case 'browser':
      return { probe: { ...probe, url: substitute(probe.url, values, encodeURIComponent) } };
    case 'sql': {
      const sql = bindSql(probe.query, values);
      return sql.params.length ? { probe, sql } : { probe };
    }
    case 'command': {
      const bound = { ...probe };
      if (probe.args) bound.args = probe.args.map((a) => substitute(a, values, asIs));
      if (probe.env) bound.env = bindMap(probe.env, values);
      return { probe: bound };
    }
  }
}

/** Binds a probe's placeholders; `{error}` when a value is unavailable or unsafe where it stands. */
export function bindProbe(probe: ManifestProbe, values: SubjectValues): BoundProbe | { error: string } {
  try {
    return bind(probe, values);
  } catch (err) {
    if (err instanceof BindError) return { error: `cannot bind the probe's placeholders: ${err.message}` };
    throw err;
  }
}
