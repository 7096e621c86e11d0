/**
 * Where golden files and screenshots may be read and written. Traces and goldens are untrusted
 * (they may come from a PR or a forged artifact), so every path taken from them is checked:
 *   - a scenario id names `<golden dir>/<id>.golden.json`: it must match SCENARIO_ID_PATTERN;
 *   - a golden file (read or written) and its screenshots stay inside the golden directory;
 *   - a trace's screenshot is taken only from the run's own output directory (the trace file's
 *     directory) and must be a regular file;
 *   - a golden's screenshot is read only from inside the golden's directory.
 * Real paths are compared (util/contained-path.ts), so a planted symlink does not lead out either.
 */
import { lstatSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { InputError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { containedPath, isInside } from '../util/contained-path.js';
import { isScenarioId, SCENARIO_ID_RULE } from '../util/scenario-id.js';

/** Throws unless `id` is a valid scenario id; `source` names where it came from. */
export function checkScenarioId(id: string | undefined, source: string): void {
  if (id !== undefined && !isScenarioId(id))
    throw new InputError(`${source}: scenario must be ${SCENARIO_ID_RULE}, got ${JSON.stringify(id)}`);
}

/** `<dir>/<scenario or "default">.golden.json`, refused when it would not stay inside `dir`. */
export function goldenFileIn(dir: string, scenario: string | undefined): string {
  checkScenarioId(scenario, 'golden');
  const path = join(dir, `${scenario ?? 'default'}.golden.json`);
  if (!isInside(dir, path))
    throw new InputError(
      `${path}: refusing to use a golden file that leads outside the golden directory ${dir} (a symlink?)`,
    );
  return path;
}

/** The trace's screenshot of `probe`, inside the trace's own directory, or null when missing. */
export function traceScreenshot(tracePath: string | undefined, probe: string, rel: string): string | null {
  const root = tracePath ? dirname(resolve(tracePath)) : resolve('.');
  const label = tracePath ?? 'trace';
  const abs = containedPath(root, rel);
  if (abs === null)
    throw new InputError(
      `${label}: screenshot of probe ${JSON.stringify(probe)} is ${JSON.stringify(rel)}, outside the run's output directory ${root}; screenshots are taken only from the directory of the trace`,
    );
  return existingRegularFile(abs, `${label}: screenshot of probe ${JSON.stringify(probe)}`);
}

/** The golden's screenshot of `probe`, inside the golden's directory, or null when missing. */
export function goldenScreenshot(goldenPath: string, probe: string, rel: string): string | null {
  const root = dirname(resolve(goldenPath));
  const abs = containedPath(root, rel);
  if (abs === null)
    throw new InputError(
      `${goldenPath}: probes.${probe}.screenshot: ${JSON.stringify(rel)} is outside the golden's directory ${root}`,
    );
  return existingRegularFile(abs, `${goldenPath}: probes.${probe}.screenshot`);
}

function existingRegularFile(abs: string, label: string): string | null {
  let isFile: boolean;
  try {
    isFile = statSync(abs).isFile();
  } catch {
    return null;
  }
  if (!isFile) throw new InputError(`${label}: ${abs} is not a regular file`);
  return abs;
}

/**
 * Copies a screenshot into the golden directory (`target` is relative to it): temp file + rename,
 * so an existing symlink at the target is replaced, never followed.
 */
export function copyScreenshotInto(goldenDir: string, src: string, target: string): void {
  const dst = join(goldenDir, target);
  if (!isInside(goldenDir, dirname(dst)) || isSymlink(dirname(dst)))
    throw new InputError(
      `${dirname(dst)}: refusing to write screenshots outside the golden directory ${goldenDir} (a symlink?)`,
    );
  writeFileAtomic(dst, readFileSync(src), 'golden screenshot');
}

function isSymlink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}
