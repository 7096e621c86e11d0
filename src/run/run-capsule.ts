/**
 * The capsule a run loads, described before anything runs: a bad capsule path, a damaged or
 * undecryptable file, or a capsule of another app is bad input (exit 2), not a failed run.
 */
import { resolve } from 'node:path';
import { InputError } from '../errors.js';
import { describeCapsule } from '../trace/build.js';
import type { RunOptions } from './replay.js';

export type RunCapsule = Awaited<ReturnType<typeof describeCapsule>> & {
  /** The capsule file, resolved against the caller's cwd (the summary keeps the path as given). */
  absolutePath: string;
};

export async function describeRunCapsule(options: RunOptions): Promise<RunCapsule | null> {
  if (!options.capsulePath) return null;
  const absolutePath = resolve(options.cwd, options.capsulePath);
  const capsule = await describeCapsule(absolutePath, options.capsuleOpen);
  capsule.summary.path = options.capsulePath;
  if (capsule.scan.header.app !== options.manifest.appId)
    throw new InputError(
      `${options.capsulePath}: capsule is for app ${JSON.stringify(capsule.scan.header.app)}, but the manifest ${options.manifestPath} is appId ${JSON.stringify(options.manifest.appId)}`,
    );
  return { ...capsule, absolutePath };
}
