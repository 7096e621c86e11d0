import { readFileSync } from 'node:fs';

/** The package version, read once from package.json (works from src/, lib/ and the dist bundle). */
function readVersion(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'replay-env' && pkg.version) return pkg.version;
    } catch {
      // try the next location
    }
  }
  return '0.0.0-unknown';
}

export const VERSION: string = readVersion();
export const TOOL_NAME = 'replay-env';
