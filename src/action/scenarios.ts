/**
 * Which scenarios this job runs: `all` or a list from the registry, then (with `shard: i/n`) a
 * deterministic slice, so a job matrix spreads them over runners without overlap or gaps:
 * ids are sorted and dealt round-robin, the i-th runner takes every n-th starting at i.
 */
import { isAbsolute } from 'node:path';
import { InputError } from '../errors.js';
import { containedPath } from '../util/contained-path.js';
import type { Shard } from './settings.js';

export function selectScenarios<T extends { id: string }>(
  registry: T[],
  selection: 'all' | string[],
  shard: Shard | undefined,
  registryPath: string,
): T[] {
  let chosen: T[];
  if (selection === 'all') chosen = [...registry];
  else {
    const unknown = selection.filter((id) => !registry.some((s) => s.id === id));
    if (unknown.length)
      throw new InputError(
        `input "scenarios": ${unknown.map((u) => JSON.stringify(u)).join(', ')} not in ${registryPath} (known: ${
          registry.map((s) => s.id).join(', ') || 'none'
        })`,
      );
    chosen = registry.filter((s) => selection.includes(s.id));
  }
  chosen.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  if (!shard) return chosen;
  return chosen.filter((_, i) => i % shard.total === shard.index - 1);
}

/**
 * A path the scenario registry gives (a capsule or golden file), resolved inside the workspace.
 * The registry comes from the checked-out repository, possibly a pull request's: an absolute path
 * or one that leaves the workspace (`..`, a symlink) is refused, naming the file, the scenario and
 * the field, never read.
 */
export function registryPath(
  workspace: string,
  registryFile: string,
  scenarioId: string,
  field: 'capsule.path' | 'golden',
  value: string,
): string {
  const path = isAbsolute(value) ? null : containedPath(workspace, value);
  if (path === null)
    throw new InputError(
      `${registryFile}: scenario ${JSON.stringify(scenarioId)}: ${field} must be a path inside the workspace (relative, no ".." out of it, no symlink out of it)`,
    );
  return path;
}
