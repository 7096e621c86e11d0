/**
 * Output files are written atomically: to a temp file beside the target, then renamed into place,
 * so a reader never sees half a file and a failed or killed write leaves nothing at the target.
 *
 * Temp names are recognisable and owned: `.<name>.<pid>.<random>.tmp`. A process that dies
 * without cleaning up (SIGKILL, power loss) leaves its temp file behind; the next write to the same
 * path removes the temp files whose owning process is no longer alive (on this machine: the pid
 * is checked with signal 0, so a temp file of a live writer is never touched).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { FailureError } from '../errors.js';
import { checkOutputTarget } from './output-target.js';

/** A fresh temp path for `path` in the same directory (so the rename stays on one filesystem). */
export function tempPathFor(path: string): string {
  const abs = resolve(path);
  return join(dirname(abs), `.${basename(abs)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

/** The pid that owns a temp file of `path`'s, or null when `file` is not one. */
function tempOwner(path: string, file: string): number | null {
  const prefix = `.${basename(path)}.`;
  if (!file.startsWith(prefix) || !file.endsWith('.tmp')) return null;
  const m = /^(\d+)\.[0-9a-f]+\.tmp$/.exec(file.slice(prefix.length));
  return m ? Number(m[1]) : null;
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes temp files of `path` left by writers that are no longer running; returns the removed
 * paths. Best effort: a directory that cannot be listed is left alone.
 */
export function removeStaleTemps(path: string): string[] {
  const abs = resolve(path);
  const dir = dirname(abs);
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const file of entries) {
    const pid = tempOwner(abs, file);
    if (pid === null || processAlive(pid)) continue;
    try {
      rmSync(join(dir, file), { force: true });
      removed.push(join(dir, file));
    } catch {
      // another writer may be cleaning up the same file
    }
  }
  return removed;
}

/** "EFBIG: file too large, write" → the OS reason, with its code. */
export function osReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e?.message ?? String(err);
}

/**
 * Writes `text` to `path` atomically (directory created as needed). On any failure the temp file
 * is removed and a FailureError names `what`, the path and the OS error.
 */
export function writeFileAtomic(path: string, text: string | Uint8Array, what = 'file'): void {
  const abs = resolve(path);
  // The rename would replace a device or directory entry (as root: /dev/null itself).
  checkOutputTarget(abs, `the ${what}`);
  try {
    mkdirSync(dirname(abs), { recursive: true });
  } catch (err) {
    throw new FailureError(`cannot write the ${what} ${abs}: cannot create its directory: ${osReason(err)}`, {
      cause: err,
    });
  }
  removeStaleTemps(abs);
  const tmp = tempPathFor(abs);
  try {
    writeFileSync(tmp, text, { flag: 'wx' });
    renameSync(tmp, abs);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new FailureError(`cannot write the ${what} ${abs}: ${osReason(err)}; nothing was written there`, {
      cause: err,
    });
  }
}
