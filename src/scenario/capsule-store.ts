/**
 * Where `scenario add` keeps a scenario's capsule: `capsules/<id><ext>` inside the repository —
 * the folder `.gitignore` keeps out of git (`capsules/**`): a capsule is customer data and is
 * never committed. The registry records the path relative to the repository (the Action reads it
 * relative to its workspace). Every path is checked on real paths (util/contained-path.ts), so a
 * `capsules` symlink does not lead out of the repository.
 */
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, relative } from 'node:path';
import { detectEncoding } from '../capsule/open.js';
import { InputError } from '../errors.js';
import { tempPathFor } from '../util/atomic-file.js';
import { containedPath, isInside, realPathOf } from '../util/contained-path.js';

const CAPSULE_DIR = 'capsules';

/** How a new export is named: always gzip, `.age` when encrypted. */
export function exportFileName(id: string, encrypted: boolean): string {
  return `${id}.json.gz${encrypted ? '.age' : ''}`;
}

/** `capsules/<name>` inside `repo` (absolute), refused when it would leave the repository. */
export function capsuleTarget(repo: string, name: string): string {
  const path = containedPath(repo, `${CAPSULE_DIR}/${name}`);
  if (path === null || !isInside(repo, path))
    throw new InputError(
      `${repo}/${CAPSULE_DIR}: refusing to store a capsule outside the repository (is ${CAPSULE_DIR}/ a symlink?)`,
      { field: '--capsule' },
    );
  return path;
}

/** Refuses to overwrite another file: a stored capsule is what a golden was blessed on. */
export function assertFreeTarget(target: string, repo: string): void {
  if (existsSync(target))
    throw new InputError(
      `${relative(repo, target)} already exists: a capsule is stored there (another scenario's, or an earlier attempt's); pass it with --capsule ${relative(repo, target)}, or remove it first`,
      { field: '--capsule' },
    );
}

const KNOWN_SUFFIX = /\.json(\.gz)?(\.age|\.enc)?$/;

async function storedName(id: string, source: string): Promise<string> {
  const suffix = KNOWN_SUFFIX.exec(basename(source))?.[0];
  if (suffix) return `${id}${suffix}`;
  const encoding = await detectEncoding(source);
  return `${id}${encoding === 'json' ? '.json' : encoding === 'gzip' ? '.json.gz' : '.json.age'}`;
}

export interface StoredCapsule {
  /** Absolute path of the stored capsule. */
  path: string;
  /** As the registry records it: relative to the repository, `/`-separated. */
  registryPath: string;
  /** False when the capsule already was under capsules/ and is used where it is. */
  copied: boolean;
}

/** `path` relative to the repository, `/`-separated (real paths: the file may not exist yet). */
export function registryPathOf(repo: string, path: string): string {
  return relative(realPathOf(repo) ?? repo, realPathOf(path) ?? path)
    .split('\\')
    .join('/');
}

/**
 * An existing capsule for scenario `id`: used where it is when it already lies under the
 * repository's capsules/, else copied to capsules/<id><its suffix> (temp file + rename).
 */
export async function storeExistingCapsule(repo: string, id: string, source: string): Promise<StoredCapsule> {
  const dir = capsuleTarget(repo, '.');
  if (isInside(dir, source))
    return { path: source, registryPath: registryPathOf(repo, source), copied: false };
  const target = capsuleTarget(repo, await storedName(id, source));
  assertFreeTarget(target, repo);
  mkdirSync(dirname(target), { recursive: true });
  const tmp = tempPathFor(target);
  try {
    copyFileSync(source, tmp);
    renameSync(tmp, target);
  } finally {
    rmSync(tmp, { force: true });
  }
  return { path: target, registryPath: registryPathOf(repo, target), copied: true };
}
