/** Loading a manifest file: read, parse, validate, and report every problem at once. */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as losslessParse } from 'lossless-json';
import { parseJsonText, readTextFile } from '../util/json-file.js';
import { reservedKeyProblems } from '../util/reserved-keys.js';
import { formatPath, invalidFile, issueLines } from '../util/zod-issues.js';
import { crossFieldChecks, type Manifest, manifestSchema } from './schema.js';
import { findUnknownKeys } from './unknown-keys.js';

export interface LoadedManifest {
  manifest: Manifest;
  /** Absolute path of the manifest file. */
  path: string;
  /** The file as written (for line lookups in annotations). */
  text: string;
  /** JSON paths of keys the schema does not know (typos, or newer fields). */
  unknownKeys: string[];
}

export function loadManifest(path: string): LoadedManifest {
  const text = readTextFile(path, 'manifest');
  const raw = parseJsonText(text, path, (t) => {
    const value: unknown = JSON.parse(t);
    // JSON.parse keeps the last of two equal keys silently (a second "postgres" would replace the
    // first); lossless-json refuses them, with the position.
    losslessParse(t);
    return value;
  });
  return validateManifest(raw, path, text);
}

export function validateManifest(raw: unknown, path: string, text = ''): LoadedManifest {
  const reserved = reservedKeyProblems(raw);
  if (reserved.length > 0) throw invalidFile(path, 'manifest', reserved);
  const result = manifestSchema.safeParse(raw);
  if (!result.success) {
    const lines = issueLines(result.error);
    // zod skips refinements once a field fails; run the cross-field checks anyway.
    crossFieldChecks(raw, (iss) => {
      const line = `${formatPath(iss.path)}: ${iss.message}`;
      if (!lines.includes(line)) lines.push(line);
    });
    throw invalidFile(path, 'manifest', lines);
  }
  return {
    manifest: result.data,
    path: resolve(path),
    text,
    unknownKeys: findUnknownKeys(manifestSchema, raw),
  };
}

/**
 * `--app` takes a manifest path; a bare name (`--app pagila`) that is not a file means
 * `config/apps/<name>.json` under the working directory.
 */
export function resolveAppPath(app: string, cwd: string): string {
  const direct = resolve(cwd, app);
  if (existsSync(direct) || /[\\/]/.test(app) || app.endsWith('.json')) return direct;
  const conventional = resolve(cwd, 'config', 'apps', `${app}.json`);
  return existsSync(conventional) ? conventional : direct;
}

/** Resolve `--app` against the working directory and load it. */
export function loadAppManifest(app: string, cwd: string): LoadedManifest {
  return loadManifest(resolveAppPath(app, cwd));
}
