/**
 * GitHub's text limits: a check run's output.summary and an issue comment body may hold at most
 * 65,535 characters. We measure UTF-8 bytes (never more than the characters) so the result is
 * under the limit however GitHub counts, cut on a line boundary, and say that it was cut.
 */
export const GITHUB_TEXT_LIMIT = 65_535;

export function truncateMarkdown(text: string, maxBytes: number, note: string): string {
  if (Buffer.byteLength(text, 'utf8') <= maxBytes) return text;
  const suffix = `\n\n…\n\n> **Truncated**: ${note}\n`;
  // 8 bytes spare for closing an open code fence.
  const budget = maxBytes - Buffer.byteLength(suffix, 'utf8') - 8;
  if (budget <= 0) return suffix.slice(0, maxBytes);
  // Cut at the byte budget without splitting a character, then back to the last line break.
  let cut = Buffer.from(text, 'utf8').subarray(0, budget).toString('utf8');
  if (cut.endsWith('\uFFFD')) cut = cut.slice(0, -1);
  const nl = cut.lastIndexOf('\n');
  if (nl > budget / 2) cut = cut.slice(0, nl);
  // An open code fence would swallow the note.
  if ((cut.match(/^```/gm)?.length ?? 0) % 2 === 1) cut += '\n```';
  return cut + suffix;
}
