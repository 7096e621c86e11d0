/**
 * The example app's manifest (config/apps/socialapp.json) made runnable in a test: a free port for
 * the app and its probes, browser probes dropped (no Chromium needed), and the app's checkout and
 * golden directory where the test wants them. Returns the manifest object; tests that patch more
 * do so before writing it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../src/postgres/embedded.js';
import { REPO_ROOT } from './cli.js';

const DEFAULT_BASE = 'http://127.0.0.1:4517';

export interface ExampleAppOptions {
  /** The app's checkout (`repoPath`): absolute, or relative to the manifest file. */
  repoPath: string;
  /** The golden directory (`golden.dir`); the manifest's own when omitted. */
  goldenDir?: string;
}

// biome-ignore lint/suspicious/noExplicitAny: the manifest as JSON, patched field by field by tests
export type ManifestJson = Record<string, any>;

export async function exampleAppManifest(opts: ExampleAppOptions): Promise<ManifestJson> {
  const m = JSON.parse(readFileSync(join(REPO_ROOT, 'config/apps/socialapp.json'), 'utf8'));
  const base = `http://127.0.0.1:${await freePort()}`;
  m.$schema = undefined;
  m.repoPath = opts.repoPath;
  if (opts.goldenDir !== undefined) m.golden = { dir: opts.goldenDir };
  m.commands[0].env.PORT = new URL(base).port;
  m.commands[0].readyUrl = `${base}/health`;
  m.probes = m.probes
    .filter((p: { kind: string }) => p.kind !== 'browser')
    .map((p: { url?: string }) => (p.url ? { ...p, url: p.url.replace(DEFAULT_BASE, base) } : p));
  return m;
}
