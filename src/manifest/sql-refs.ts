/**
 * Finding `alias.column` references and alias declarations in the manifest's SQL snippets, so
 * doctor can check them against the live catalog. Deliberately modest: not an SQL parser, just
 * careful tokens. String literals, dollar-quoted strings and comments are blanked first so
 * `'a.b'` never counts; quoted identifiers keep their case, unquoted ones fold to lower case.
 */

export interface ColumnRef {
  qualifier: string;
  column: string;
  /** The reference as written, e.g. `r.rental_date`. */
  text: string;
}

/** Replaces literals and comments with spaces (same length, so offsets stay meaningful). */
export function blankLiterals(sql: string): string {
  let out = '';
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const ch = sql[i] as string;
    const next = sql[i + 1];
    if (ch === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      const stop = end < 0 ? n : end;
      out += ' '.repeat(stop - i);
      i = stop;
    } else if (ch === '/' && next === '*') {
      const end = sql.indexOf('*/', i + 2);
      const stop = end < 0 ? n : end + 2;
      out += ' '.repeat(stop - i);
      i = stop;
    } else if (ch === "'") {
      // 'it''s' — and E'\'' escapes.
      const escapes = i > 0 && /[eE]/.test(sql[i - 1] as string) && !/\w/.test(sql[i - 2] ?? '');
      let j = i + 1;
      while (j < n) {
        if (escapes && sql[j] === '\\') j += 2;
        else if (sql[j] === "'" && sql[j + 1] === "'") j += 2;
        else if (sql[j] === "'") break;
        else j++;
      }
      const stop = Math.min(n, j + 1);
      out += `'${' '.repeat(Math.max(0, stop - i - 2))}'`.slice(0, stop - i);
      i = stop;
    } else if (ch === '$') {
      const tag = /^\$([A-Za-z_]\w*)?\$/.exec(sql.slice(i));
      if (tag && !/\w/.test(sql[i - 1] ?? '')) {
        const end = sql.indexOf(tag[0], i + tag[0].length);
        const stop = end < 0 ? n : end + tag[0].length;
        out += ' '.repeat(stop - i);
        i = stop;
      } else {
        out += ch;
        i++;
      }
    } else {
      out += ch;
      i++;
    }
  }
  return out;
}

const IDENT = `(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)`;

function normalizeIdent(raw: string): string {
  if (raw.startsWith('"')) return raw.slice(1, -1).replace(/""/g, '"');
  return raw.toLowerCase();
}

/**
 * Every `qualifier.column` in the snippet. Skips three-part names (`schema.table.column`) and
 * schema-qualified function calls (`pg_catalog.now()`), and `x.*`.
 */
export function columnRefs(sql: string): ColumnRef[] {
  const text = blankLiterals(sql);
  const re = new RegExp(String.raw`(${IDENT})\s*\.\s*(${IDENT})`, 'g');
  const out: ColumnRef[] = [];
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const before = text.slice(0, m.index).trimEnd();
    const after = text.slice(m.index + m[0].length).trimStart();
    // Part of a longer dotted name, a number, a function call, or a `::type` cast target.
    if (before.endsWith('.') || /[A-Za-z0-9_$"]$/.test(text.slice(0, m.index))) continue;
    if (after.startsWith('.') || after.startsWith('(')) {
      if (after.startsWith('.')) re.lastIndex = m.index + m[0].length + 1;
      continue;
    }
    if (before.endsWith('::')) continue;
    out.push({
      qualifier: normalizeIdent(m[1] as string),
      column: normalizeIdent(m[2] as string),
      text: m[0].replace(/\s+/g, ''),
    });
  }
  return out;
}

const NOT_AN_ALIAS = new Set(
  `on where join left right inner outer cross full natural using group order limit union lateral as
   and or not select set window having offset fetch for tablesample except intersect returning with
   from into values when then else end is in like ilike between`.split(/\s+/),
);

/**
 * Aliases declared in the snippet: `from x a`, `join x as a`, `, x a`. Returns alias → relation
 * name (unqualified, normalized); an alias declared for two different relations maps to null.
 */
export function aliasDeclarations(sql: string): Map<string, string | null> {
  const text = blankLiterals(sql);
  const re = new RegExp(
    String.raw`(?:\bfrom|\bjoin|,)\s+(?:only\s+)?((?:${IDENT}\s*\.\s*)?${IDENT})(?:\s+as)?\s+(${IDENT})`,
    'gi',
  );
  const out = new Map<string, string | null>();
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const after = text.slice(m.index + m[0].length);
    const alias = normalizeIdent(m[2] as string);
    if (NOT_AN_ALIAS.has(alias) || /^\s*[.(]/.test(after)) {
      // Rewind so `from x join y b` still sees `join y b`.
      re.lastIndex = m.index + m[0].length - (m[2] as string).length;
      continue;
    }
    const parts = (m[1] as string).split('.');
    const relation = normalizeIdent((parts[parts.length - 1] as string).trim());
    const prev = out.get(alias);
    out.set(alias, prev === undefined || prev === relation ? relation : null);
  }
  return out;
}
