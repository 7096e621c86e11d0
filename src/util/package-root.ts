/**
 * Where the shipped `loops/user-history-replay/` folder is, from src/ (tsx, tests), lib/ (npm
 * package) and dist/ (the ncc-bundled Action, where import.meta.url is dist/index.js).
 *
 * First the path relative to this module's source location (src/gate → ../../loops), then a search
 * upward from this module's directory for a `loops/user-history-replay/gate.yaml`.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const LOOP_NAME = 'user-history-replay';

let cached: string | undefined;

export function loopDir(): string {
  if (cached) return cached;
  const candidates: string[] = [];
  try {
    candidates.push(fileURLToPath(new URL(`../../loops/${LOOP_NAME}/`, import.meta.url)));
  } catch {
    // not a file: URL (bundled in some other way); fall through to the search
  }
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    candidates.push(join(dir, 'loops', LOOP_NAME));
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  for (const c of candidates) {
    if (existsSync(join(c, 'gate.yaml'))) {
      cached = c;
      return c;
    }
  }
  // Not found: return the first candidate so the error names a concrete path.
  return candidates[0] ?? join('loops', LOOP_NAME);
}

export function loopFile(name: string): string {
  return join(loopDir(), name);
}
