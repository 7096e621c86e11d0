/**
 * Finding credential-looking values, without ever reporting the value itself.
 *
 * Two kinds of evidence:
 * - the text looks like a credential (PEM private key, JWT, AWS key id, GitHub/Slack/Stripe/Google
 *   tokens, `Bearer …`, a password inside a database URL);
 * - a non-empty string sits in a field whose normalized name (lower-case, non-alphanumerics
 *   removed) says it holds a secret: password, passwd, secret, token, apikey, accesskey,
 *   privatekey, clientsecret. Names that only describe a secret (`token_type`, `token_count`,
 *   `password_expires_at`, …) are not flagged.
 *
 * Used by the exporter on safe capsules (after redaction) and by the run loop to mask trace text.
 */
import { isLosslessNumber } from '../util/exact-json.js';

export interface ValueFinding {
  /** JSON path inside the scanned value, e.g. `settings.contact.token` or `tags[2]`. */
  path: string;
  kind: string;
}

export interface TextFinding {
  kind: string;
  index: number;
  length: number;
}

interface TextPattern {
  kind: string;
  re: RegExp;
  /** Index of the capture group that is the secret itself (0 = the whole match). */
  group: number;
}

const PATTERNS: TextPattern[] = [
  {
    kind: 'private-key',
    re: /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|$)/g,
    group: 0,
  },
  { kind: 'jwt', re: /\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g, group: 0 },
  { kind: 'aws-access-key', re: /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g, group: 0 },
  { kind: 'github-token', re: /\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{22,})/g, group: 0 },
  { kind: 'slack-token', re: /\bxox[abprs]-[A-Za-z0-9-]{10,}/g, group: 0 },
  { kind: 'stripe-key', re: /\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,}/g, group: 0 },
  { kind: 'google-api-key', re: /\bAIza[0-9A-Za-z_-]{35}/g, group: 0 },
  { kind: 'bearer-token', re: /\bBearer\s+([A-Za-z0-9._~+/-]{8,}=*)/dg, group: 1 },
  // scheme://user:password@host — the password part only.
  {
    kind: 'openai-key',
    re: /\bsk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{20,}|\bsk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}/g,
    group: 0,
  },
  {
    kind: 'aws-secret-key',
    re: /aws.{0,20}?(?:secret|key).{0,20}?['"=:\s]([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])/dgi,
    group: 1,
  },
  { kind: 'url-password', re: /\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@'"]+:([^\s@/'"]+)@/dgi, group: 1 },
];

const SECRET_NAME_PARTS = [
  'password',
  'passwd',
  'secret',
  'token',
  'apikey',
  'accesskey',
  'privatekey',
  'clientsecret',
  'credential',
];
/** Names that mention a secret but hold metadata about it. */
const METADATA_SUFFIX =
  /(?:type|types|count|used|length|expires|expiresat|expiresin|expiry|expiration|url|uri|endpoint|hint|policy|set|updatedat|createdat|changedat)$/;

function normalizeFieldName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, '');
}

/** True when a field of this name should not hold a readable value in a safe capsule. */
export function isSecretFieldName(name: string): boolean {
  const n = normalizeFieldName(name);
  if (!SECRET_NAME_PARTS.some((p) => n.includes(p))) return false;
  return !METADATA_SUFFIX.test(n);
}

/** Credential-looking substrings of `text` (kind, index, length of the secret part). */
export function scanText(text: string): TextFinding[] {
  const out: TextFinding[] = [];
  for (const p of PATTERNS) {
    p.re.lastIndex = 0;
    for (let m = p.re.exec(text); m; m = p.re.exec(text)) {
      const secret = m[p.group] ?? m[0];
      // The group's own position (`d` flag), not the first occurrence of its text: in
      // `postgres://postgres:postgres@…` the password is the third "postgres", not the scheme.
      const index = p.group === 0 ? m.index : (m.indices?.[p.group]?.[0] ?? m.index);
      out.push({ kind: p.kind, index, length: secret.length });
      if (m[0].length === 0) p.re.lastIndex++;
    }
  }
  return out.sort((a, b) => a.index - b.index);
}

/** Cheap pre-check: most strings contain none of the characters every pattern needs. */
const MAYBE_SECRET =
  /-----BEGIN|eyJ|AKIA|ASIA|gh[pousr]_|github_pat_|xox[abprs]-|_live_|_test_|AIza|Bearer|sk-|aws|:\/\/[^\s:/@'"]+:[^\s@/'"]+@|\\x[0-9a-fA-F]{16}/i;

/** bytea as exported (`\x2d2d…`): the bytes as text, when they are text, so secrets in them are seen. */
function byteaText(value: string): string | null {
  if (!/^\\x(?:[0-9a-fA-F]{2})+$/.test(value)) return null;
  return Buffer.from(value.slice(2), 'hex').toString('latin1');
}

/**
 * A key (`"…name…":`) that may name a secret: a superset of `isSecretFieldName`, on raw JSON text.
 * Also inside a json column carried as text, where the key's quotes are escaped (`\"token\" :`).
 */
const SECRET_KEY_IN_TEXT = /(?:pass|secret|token|key)[^"\\]*\\?"(?:\s|\\[nrt])*:/i;

/**
 * Fast pre-check on a row's JSON text: false means `scanValue` of the parsed row cannot find
 * anything, so the exporter can skip parsing it.
 */
export function mightHoldSecrets(jsonText: string): boolean {
  return MAYBE_SECRET.test(jsonText) || SECRET_KEY_IN_TEXT.test(jsonText);
}

export interface ScanOptions {
  /** Paths whose values a redaction rule produced; they are never reported. */
  skip?: (path: string) => boolean;
}

/**
 * Walks a JSON value (plain or exact) and returns where credential-looking data sits.
 * `path` is the prefix for reported paths (e.g. a column name); findings never contain values.
 */
export function scanValue(value: unknown, path = '', options: ScanOptions = {}): ValueFinding[] {
  const out: ValueFinding[] = [];
  walk(value, path, null, out, options.skip);
  return out;
}

function walk(
  value: unknown,
  path: string,
  key: string | null,
  out: ValueFinding[],
  skip: ((path: string) => boolean) | undefined,
): void {
  if (value === null || value === undefined || typeof value === 'boolean' || typeof value === 'number')
    return;
  // A value a redaction rule produced (and everything inside it) is not reported.
  if (skip && path && skip(path)) return;
  if (typeof value === 'string') {
    if (value === '') return;
    const kinds = new Set<string>();
    if (MAYBE_SECRET.test(value)) for (const f of scanText(value)) kinds.add(f.kind);
    const bytes = byteaText(value);
    if (bytes !== null) for (const f of scanText(bytes)) kinds.add(`${f.kind} (bytea)`);
    if (key !== null && kinds.size === 0 && isSecretFieldName(key)) kinds.add('secret-field');
    for (const kind of kinds) out.push({ path, kind });
    return;
  }
  if (isLosslessNumber(value)) return;
  if (Array.isArray(value)) {
    // Array elements count under their parent's key (a `tokens: [...]` list is still tokens).
    for (let i = 0; i < value.length; i++) walk(value[i], `${path}[${i}]`, key, out, skip);
    return;
  }
  if (typeof value === 'object') {
    let i = 0;
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      // A credential used as an object key: reported by position, never by the key itself.
      const keyKinds = MAYBE_SECRET.test(k) ? new Set(scanText(k).map((f) => f.kind)) : new Set<string>();
      for (const kind of keyKinds) out.push({ path: `${path}{key #${i}}`, kind: `${kind} (object key)` });
      i++;
      if (keyKinds.size > 0) {
        walk(v, `${path}{key #${i - 1}}`, null, out, skip);
        continue;
      }
      walk(v, path ? `${path}.${k}` : k, k, out, skip);
    }
  }
}

/** `key: value` / `key=value` / `"key": "value"` where the key names a secret. */
const SECRET_ASSIGNMENT =
  /((?:^|[^A-Za-z0-9_])["']?([A-Za-z0-9_.-]*(?:password|passwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key)[A-Za-z0-9_-]*)["']?\s*[:=]\s*["']?)([^\s"',&;}\]]+)/gi;

/**
 * Replaces credential-looking substrings of `text`, and every occurrence of each extra secret
 * value (e.g. the values of `secrets.env` variables), with `***`. Extra values shorter than 3
 * characters are ignored (masking every "a" would destroy the text without protecting anything).
 */
export function maskSecrets(text: string, extraSecrets: string[] = []): string {
  let out = text;
  const extras = [...new Set(extraSecrets.filter((s) => s.length >= 3))].sort((a, b) => b.length - a.length);
  for (const s of extras) out = out.split(s).join('***');
  const found = scanText(out);
  if (found.length > 0) {
    let result = '';
    let at = 0;
    for (const f of found) {
      if (f.index < at) continue; // overlapping matches: the first one already covers it
      result += out.slice(at, f.index) + '***';
      at = f.index + f.length;
    }
    out = result + out.slice(at);
  }
  return out.replace(SECRET_ASSIGNMENT, (whole, lead: string, name: string, val: string) => {
    if (val === '***' || !isSecretFieldName(name)) return whole;
    return `${lead}***`;
  });
}
