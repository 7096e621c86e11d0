/**
 * Escaping data-derived text for GitHub Markdown (PR comments, check-run summaries, job
 * summaries). Strings that come from a trace, a judgement, a manifest, a policy or an error may be
 * written by whoever controls a pull request or a forged artifact; rendered as they are they could
 * hide the rest of a comment (`<!--`, `</details>`), ping people (`@everyone`), load an image from
 * any host (`![](http://…)`, `<img>`) or add links. Each function returns text that GitHub shows
 * literally:
 *
 * - `mdText`: inline text. HTML-significant characters become entities, Markdown punctuation that
 *   opens a construct (emphasis, links, code, tables, line-start lists) is backslash-escaped, `@` and bare URLs are broken with a zero-width space (GitHub's mention and
 *   autolink filters run on the rendered text, so an entity alone would not stop them), line
 *   breaks become spaces.
 * - `mdCode`: an inline code span (nothing inside is interpreted); safe in table cells.
 * - `plainText`: for surfaces GitHub shows as plain text (annotation messages, check titles):
 *   control characters out, line breaks kept or folded.
 */

const ZWSP = '\u200b';

/** Control characters other than tab and newline (terminal escapes, NUL, bidi overrides). */
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

function fold(s: string): string {
  return s.replace(/\r\n?|\n/g, ' ').replace(CONTROL, '');
}

function shorten(s: string, max: number | undefined): string {
  if (max === undefined || [...s].length <= max) return s;
  return `${[...s].slice(0, Math.max(0, max - 1)).join('')}…`;
}

/** Inline Markdown text that renders literally (see the header). */
export function mdText(s: string | undefined, max?: number): string {
  if (s === undefined || s === '') return '';
  return (
    shorten(fold(s), max)
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/[\\`*_[\]#|~]/g, (c) => `\\${c}`)
      // Line-start syntax (a list item, a heading) when the text begins a line or list item.
      .replace(/^([+=-])/, '\\$1')
      .replace(/^(\d+)([.)])/, '$1\\$2')
      .replace(/@/g, `@${ZWSP}`)
      .replace(/:\/\//g, `:${ZWSP}//`)
      .replace(/\bwww\./gi, (m) => `${m.slice(0, 3)}${ZWSP}.`)
  );
}

/**
 * An inline code span: the fence is longer than any backtick run inside, pipes are escaped for
 * table cells (GitHub applies `\|` before parsing the cell), line breaks are folded.
 */
export function mdCode(s: string | undefined, max?: number): string {
  if (s === undefined || s === '') return '';
  const t = shorten(fold(s), max).replace(/\|/g, '\\|');
  const longest = Math.max(0, ...[...t.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  const pad = t.startsWith('`') || t.endsWith('`') || /^ .* $/.test(t) ? ' ' : '';
  return `${fence}${pad}${t}${pad}${fence}`;
}

/** Text for plain-text surfaces (annotation messages and titles, check-run titles, log lines). */
export function plainText(s: string, opts: { singleLine?: boolean; max?: number } = {}): string {
  const t = opts.singleLine ? fold(s) : s.replace(/\r\n?/g, '\n').replace(CONTROL, '');
  return shorten(t, opts.max);
}

/** A Markdown link whose text is escaped and whose target must be an http(s) URL we built. */
export function mdLink(text: string, url: string | undefined): string {
  if (!url || !/^https?:\/\/[^\s()<>]+$/.test(url)) return mdText(text);
  return `[${mdText(text)}](${url})`;
}
