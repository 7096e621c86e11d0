/**
 * Which scenarios this job runs: `all` or a list from the registry, then (with `shard: i/n`) a
 * deterministic slice, so a job matrix spreads them over runners without overlap or gaps:
 * ids are sorted and dealt round-robin, the i-th runner takes every n-th starting at i.
 */
import { InputError } from '../errors.js';
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
