/**
 * Where a registered scenario's golden and capsule are, for `scenario list` and `scenario remove`:
 * the entry's `golden` (relative to the repository), else <golden dir>/<id>.golden.json — the
 * golden dir from --app (as judge resolves it), else `golden` (the example workflows' golden-dir).
 */
import { existsSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { Scenario } from '../judge/loop.js';
import { goldenDirFor } from '../judge/setup.js';
import { loadAppManifest } from '../manifest/load.js';

export interface ScenarioFiles {
  golden: { path: string; exists: boolean };
  capsule: { path?: string; artifact?: string; exists: boolean | null };
}

export function goldenDirOption(repo: string, app: string | undefined): string {
  if (!app) return join(repo, 'golden');
  const loaded = loadAppManifest(app, repo);
  return goldenDirFor({ cwd: repo }, loaded, loaded.manifest.appId);
}

export function scenarioFiles(repo: string, s: Scenario, goldenDir: string): ScenarioFiles {
  const golden = s.golden ? resolve(repo, s.golden) : join(goldenDir, `${s.id}.golden.json`);
  const capsule =
    'path' in s.capsule
      ? { path: s.capsule.path, exists: existsSync(resolve(repo, s.capsule.path)) }
      : { artifact: s.capsule.artifact, exists: null };
  return { golden: { path: relative(repo, golden), exists: existsSync(golden) }, capsule };
}
