/** Reading JSON/YAML input files with errors that name the file, and the line and column. */
import { readFileSync } from 'node:fs';
import { parse as losslessParse } from 'lossless-json';
import { InputError } from '../errors.js';
import { requireRegularFile, statIfExists } from './input-file-kind.js';
import { firstInvalidUtf8 } from './utf8.js';

export function readTextFile(path: string, what = 'file'): string {
  const st = statIfExists(path);
  // Devices never end (/dev/zero), a FIFO blocks until written: refused before opening.
  if (st && !st.isDirectory()) requireRegularFile(path, st, what);
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new InputError(`${path}: ${what} not found`);
    if (code === 'EISDIR') throw new InputError(`${path}: expected a ${what}, found a directory`);
    throw new InputError(`${path}: cannot read ${what} (${(err as Error).message})`);
  }
  // Fatal decoding: readFileSync(path, 'utf8') would silently turn bad bytes into U+FFFD.
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new InputError(
      `${path}: not valid UTF-8 (byte offset ${firstInvalidUtf8(bytes, 0, bytes.length)}); a ${what} is UTF-8 text`,
    );
  }
}

/** Line and column (1-based) of a character offset. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let last = -1;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      last = i;
    }
  }
  return { line, column: offset - last };
}

/** JSON.parse with an error that names the file, line and column. */
export function parseJsonText(
  text: string,
  path: string,
  parse: (t: string) => unknown = JSON.parse,
): unknown {
  try {
    return parse(text);
  } catch (err) {
    let msg = (err as Error).message;
    // V8: "... in JSON at position 12 (line 2 column 3)"; lossless-json: "... at position 12".
    // Some V8 messages ("Unexpected token 'o', ...") carry no position: ask lossless-json for it.
    if (!/position \d+|\(char \d+\)|line \d+ column \d+/.test(msg)) {
      try {
        losslessParse(text);
      } catch (second) {
        msg = (second as Error).message;
      }
    }
    const lc = /line (\d+) column (\d+)/.exec(msg);
    const pos = /position (\d+)|\(char (\d+)\)/.exec(msg);
    let where = '';
    if (lc) where = `line ${lc[1]}, column ${lc[2]}`;
    else if (pos) {
      const { line, column } = lineColumn(text, Number(pos[1] ?? pos[2]));
      where = `line ${line}, column ${column}`;
    }
    const reason = msg.replace(/\s*\(line \d+ column \d+\)/, '').replace(/ (in JSON )?at position \d+/, '');
    throw new InputError(`${path}: invalid JSON${where ? ` at ${where}` : ''}: ${reason}`);
  }
}
