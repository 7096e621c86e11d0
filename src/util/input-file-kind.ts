/**
 * Input files must be regular files: a device (/dev/zero never ends), a FIFO (blocks until someone
 * writes; cannot be seeked: ESPIPE), a socket or a directory (EISDIR) is refused up front with a message that says what was found,
 * instead of hanging or failing later with an operating-system error.
 */
import type { Stats } from 'node:fs';
import { readFileSync, statSync } from 'node:fs';
import { InputError } from '../errors.js';

/** What a non-regular file is, in words ("a directory", "a character device", …). */
export function fileKind(st: Stats): string {
  if (st.isFile()) return 'a regular file';
  if (st.isDirectory()) return 'a directory';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isFIFO()) return 'a pipe (FIFO)';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * Throws an InputError unless `st` is a regular file. A pipe is refused too: opening a FIFO that
 * nobody writes to blocks forever, and a capsule is read more than once.
 */
export function requireRegularFile(path: string, st: Stats, what: string): void {
  if (st.isFile()) return;
  throw new InputError(`${path}: expected a ${what} file, found ${fileKind(st)}`);
}

/** statSync that returns undefined when the path does not exist (the caller reports "not found"). */
export function statIfExists(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

/**
 * Reads a small text input (a key or recipients file), refusing a device, FIFO or socket before
 * opening it. A missing file or a directory is left to readFileSync: its error (ENOENT, EISDIR)
 * goes to the caller, which words it for its own flag or variable.
 */
export function readRegularTextFile(path: string, shown: string, what: string): string {
  const st = statIfExists(path);
  if (st && !st.isDirectory()) requireRegularFile(shown, st, what);
  return readFileSync(path, 'utf8');
}
