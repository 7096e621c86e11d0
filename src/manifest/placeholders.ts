/**
 * Subject placeholders in probes: `{{subject.user_id}}`, `{{capsuleSubject.user_id}}`,
 * `{{localSubject.user_id}}`, so one manifest replays any customer.
 *
 *   subject         the subject as it is in the replay database (after --rewrite-subject /
 *                   --use-local-subject; the capsule's own subject without a rewrite)
 *   capsuleSubject  the subject as the capsule was exported (before any rewrite)
 *   localSubject    the manifest's fixed `localSubject`
 *
 * Where they may stand, and how each is bound (never spliced into SQL text or a shell line):
 *   http url, browser url   URL-encoded (encodeURIComponent)
 *   http headers            the value as is (a value with CR/LF is refused)
 *   http body               JSON body: inside string values (a JSON-encoded string); string body: as is
 *   sql query               a bind parameter ($1, $2, …); refused inside quotes or comments
 *   command args, env       one argv entry / env value each (`args` runs without a shell)
 *   command (shell line)    refused: use `args` or `env`
 *
 * This module parses and checks (at manifest load: an unknown placeholder names its field); the
 * run stage binds them (run/probe-binding.ts).
 */

const PLACEHOLDER_SOURCES = ['subject', 'capsuleSubject', 'localSubject'] as const;
export type PlaceholderSource = (typeof PLACEHOLDER_SOURCES)[number];

export interface Placeholder {
  /** The text as written, e.g. `{{ subject.user_id }}`. */
  text: string;
  source: PlaceholderSource;
  key: string;
  index: number;
}

/** Anything in double braces. */
const BRACES = /\{\{([^{}]*)\}\}/g;
const SOURCE_KEY = /^\s*([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)\s*$/;

const isSource = (s: string): s is PlaceholderSource =>
  (PLACEHOLDER_SOURCES as readonly string[]).includes(s);

export interface ScanResult {
  placeholders: Placeholder[];
  /** Problems with the text (a `{{…}}` that is not `source.key`, an unknown source). */
  problems: string[];
}

/** Every `{{…}}` in a text; anything that is not `{{source.key}}` of a known source is a problem. */
export function scanPlaceholders(text: string): ScanResult {
  const placeholders: Placeholder[] = [];
  const problems: string[] = [];
  for (const m of text.matchAll(BRACES)) {
    const parsed = SOURCE_KEY.exec(m[1]!);
    if (!parsed || !isSource(parsed[1]!)) {
      problems.push(
        `${JSON.stringify(m[0])} is not a placeholder this tool knows (write {{subject.KEY}}, {{capsuleSubject.KEY}} or {{localSubject.KEY}})`,
      );
      continue;
    }
    placeholders.push({ text: m[0], source: parsed[1], key: parsed[2]!, index: m.index });
  }
  return { placeholders, problems };
}

/** Only the known-source placeholders (for shell text, where other `{{…}}` may be the command's own). */
export function knownPlaceholders(text: string): Placeholder[] {
  return scanPlaceholders(text).placeholders;
}

export interface PlaceholderKeys {
  subjectKeys: string[];
  localSubject: Record<string, string> | undefined;
}

/** Problems of one placeholder against the manifest's subject keys and localSubject. */
export function placeholderProblem(p: Placeholder, keys: PlaceholderKeys): string | null {
  if (p.source === 'localSubject') {
    if (!keys.localSubject)
      return `${JSON.stringify(p.text)} needs the manifest's localSubject, and there is none`;
    if (!(p.key in keys.localSubject))
      return `${JSON.stringify(p.text)}: localSubject has no key ${JSON.stringify(p.key)} (it has: ${Object.keys(keys.localSubject).join(', ') || 'none'})`;
    return null;
  }
  if (!keys.subjectKeys.includes(p.key))
    return `${JSON.stringify(p.text)}: ${JSON.stringify(p.key)} is not a subject key (subject keys: ${keys.subjectKeys.join(', ')})`;
  return null;
}

/** A token of SQL text: code, or a quoted string / quoted identifier / comment. */
interface SqlSegment {
  code: boolean;
  text: string;
}

function quotedEnd(sql: string, i: number, quote: string, backslash: boolean): number {
  let j = i + 1;
  while (j < sql.length) {
    if (backslash && sql[j] === '\\') j += 2;
    else if (sql[j] === quote) {
      if (sql[j + 1] === quote) j += 2;
      else return j + 1;
    } else j++;
  }
  return sql.length;
}

function blockCommentEnd(sql: string, i: number): number {
  let depth = 0;
  let j = i;
  while (j < sql.length) {
    if (sql.startsWith('/*', j)) {
      depth++;
      j += 2;
    } else if (sql.startsWith('*/', j)) {
      depth--;
      j += 2;
      if (depth === 0) return j;
    } else j++;
  }
  return sql.length;
}

/** Where the non-code token starting at i ends, or -1 when code starts there. */
function nonCodeEnd(sql: string, i: number): number {
  const c = sql[i]!;
  if (c === "'") {
    const escaped = i > 0 && /[eE]/.test(sql[i - 1]!) && !/[A-Za-z0-9_]/.test(sql[i - 2] ?? ' ');
    return quotedEnd(sql, i, "'", escaped);
  }
  if (c === '"') return quotedEnd(sql, i, '"', false);
  if (sql.startsWith('--', i)) {
    const nl = sql.indexOf('\n', i);
    return nl < 0 ? sql.length : nl;
  }
  if (sql.startsWith('/*', i)) return blockCommentEnd(sql, i);
  if (c === '$' && !/[A-Za-z0-9_]/.test(sql[i - 1] ?? ' ')) {
    const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i));
    if (tag) {
      const close = sql.indexOf(tag[0], i + tag[0].length);
      return close < 0 ? sql.length : close + tag[0].length;
    }
  }
  return -1;
}

/** Splits SQL into code and quoted/comment segments (strings, identifiers, dollar quotes, comments). */
export function sqlSegments(sql: string): SqlSegment[] {
  const out: SqlSegment[] = [];
  let code = '';
  let i = 0;
  while (i < sql.length) {
    const end = nonCodeEnd(sql, i);
    if (end < 0) {
      code += sql[i];
      i++;
      continue;
    }
    if (code) out.push({ code: true, text: code });
    code = '';
    out.push({ code: false, text: sql.slice(i, end) });
    i = end;
  }
  if (code) out.push({ code: true, text: code });
  return out;
}

/** Problems of the placeholders in an SQL probe's query (inside quotes, mixed with $n). */
export function sqlPlaceholderProblems(sql: string): string[] {
  const problems: string[] = [];
  const segments = sqlSegments(sql);
  let any = false;
  let numbered = false;
  for (const s of segments) {
    const found = scanPlaceholders(s.text);
    if (s.code && found.placeholders.length) any = true;
    if (!s.code && found.placeholders.length)
      problems.push(
        `${JSON.stringify(found.placeholders[0]!.text)} stands inside quotes or a comment: write it bare (it is bound as a query parameter, never spliced into the SQL text)`,
      );
    if (s.code && /\$\d/.test(s.text)) numbered = true;
  }
  if (any && numbered)
    problems.push('mixes {{…}} placeholders with numbered parameters ($1…): use placeholders only');
  return problems;
}
