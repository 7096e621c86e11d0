import { readFileSync } from 'node:fs';
import os from 'node:os';

/**
 * The node flags the `replay-env` launcher passes through its shebang
 * (`#!/usr/bin/env -S node <flags>`), so a bench child process runs with what users get.
 */
export function launcherNodeFlags(): string[] {
  const first = readFileSync(new URL('../bin/replay-env.js', import.meta.url), 'utf8').split('\n')[0] ?? '';
  const m = /^#!\S*env\s+-S\s+node\b(.*)$/.exec(first);
  return m ? m[1]!.trim().split(/\s+/).filter(Boolean) : [];
}

/** The 1/5/15-minute load averages, e.g. `1.2 / 0.9 / 0.7`. */
export function loadAverage(): string {
  return os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' / ');
}
