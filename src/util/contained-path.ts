/**
 * Paths from untrusted documents (a trace's screenshot, a golden's screenshot, a scenario id that
 * names a golden file) must stay inside the directory they belong to. The check is made on real
 * paths (symlinks resolved, for the directory and for every existing part of the path), so neither
 * `../` nor a symlink planted inside the directory leads out of it.
 */
import { lstatSync, realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, relative, resolve, sep } from 'node:path';

function lstatExists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * The real path of `p` (its deepest existing ancestor resolved, the rest appended), or null when
 * that ancestor is a symlink that cannot be resolved (dangling, or a loop): it points somewhere
 * nobody can check.
 */
export function realPathOf(p: string): string | null {
  let existing = resolve(p);
  const rest: string[] = [];
  while (!lstatExists(existing)) {
    const parent = dirname(existing);
    if (parent === existing) break;
    rest.unshift(basename(existing));
    existing = parent;
  }
  try {
    return resolve(realpathSync(existing), ...rest);
  } catch {
    return null;
  }
}

/** True when `p` is `root` or inside it, comparing real paths. */
export function isInside(root: string, p: string): boolean {
  const r = realPathOf(root);
  const real = realPathOf(p);
  if (r === null || real === null) return false;
  const rel = relative(r, real);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/** `rel` (a path written in a document) resolved against `root`, or null when it leaves `root`. */
export function containedPath(root: string, rel: string): string | null {
  if (rel.includes('\0')) return null;
  const p = resolve(root, rel);
  return isInside(root, p) ? p : null;
}
