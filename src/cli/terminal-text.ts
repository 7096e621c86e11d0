/**
 * Everything the CLI prints goes through `terminalSafe`: control characters from data (capsule
 * values, probe output, names from traces and goldens) would otherwise reach the terminal, where
 * ESC sequences can rewrite the screen, set the window title or hide text. Each control character
 * (C0 except tab and newline, DEL, C1) is shown as a `\uXXXX` escape — which, inside a JSON
 * string, is the same value, so `--json` output stays valid and equal. The tool's own progress
 * redraw (carriage return + erase line) is the one sequence kept.
 */

const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;
const HAS_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;
/** The progress redraw of export-postgres: CR, then ESC [2K (erase the line). */
export const REDRAW = '\r\x1b[2K';

const escapeChar = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

export function terminalSafe(text: string): string {
  if (!HAS_CONTROL.test(text)) return text;
  return text
    .split(REDRAW)
    .map((part) => part.replace(CONTROL, escapeChar))
    .join(REDRAW);
}
