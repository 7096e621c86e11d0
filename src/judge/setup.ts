/**
 * Resolving what a judge/bless run needs from its flags: manifest, scenario, golden directory and
 * file, policy path, judges config. Shared by the CLI commands (judge, bless, run) and the demo so
 * they resolve the same way; the Action resolves its inputs in action/pipeline.ts.
 *
 *   golden dir: --golden DIR, else the manifest's golden.dir (relative to the manifest), else
 *               golden/<appId> (relative to the manifest's directory, or the cwd without one)
 *   golden file: the scenario's `golden` (relative to the cwd), else <dir>/<scenario|default>.golden.json
 *   policy:     --policy P, else the manifest's `policy` (relative to the manifest), else the
 *               loop folder's gate.yaml (--loop DIR, default the shipped loops/user-history-replay)
 *   scenario:   --scenario S (must be registered), else the trace's scenario (if registered)
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { InputError } from '../errors.js';
import { loadManifest } from '../manifest/load.js';
import type { Manifest } from '../manifest/schema.js';
import type { Trace } from '../trace/schema.js';
import { loopDir } from '../util/package-root.js';
import { goldenPathFor, type LoadedGolden, readGolden } from './golden.js';
import { type JudgesConfig, loadJudgesConfig, loadScenarios, type Scenario } from './loop.js';

export interface SetupFlags {
  cwd: string;
  /** Manifest path (--app). */
  app?: string;
  golden?: string;
  policy?: string;
  scenario?: string;
  /** A loop folder with judges.yaml and scenarios.yaml (default: the shipped one). */
  loop?: string;
}

export interface JudgeSetup {
  manifest?: Manifest;
  manifestPath?: string;
  scenario?: Scenario;
  /** The scenario id used to name the golden (may be unregistered, from the trace). */
  scenarioId?: string;
  goldenDir: string;
  goldenPath: string;
  policyPath: string;
  judges: JudgesConfig;
  scenarios: Scenario[];
}

export function resolveSetup(flags: SetupFlags, trace: Trace): JudgeSetup {
  const dir = flags.loop ? resolve(flags.cwd, flags.loop) : loopDir();
  const judges = loadJudgesConfig(join(dir, 'judges.yaml'));
  const scenariosPath = join(dir, 'scenarios.yaml');
  const scenarios = loadScenarios(scenariosPath);
  const loaded = flags.app ? loadManifest(resolve(flags.cwd, flags.app)) : undefined;
  if (loaded && loaded.manifest.appId !== trace.app)
    throw new InputError(
      `${loaded.path}: manifest is for app ${loaded.manifest.appId}, but the trace is for ${trace.app}`,
    );
  let scenario: Scenario | undefined;
  if (flags.scenario) {
    scenario = scenarios.find((s) => s.id === flags.scenario);
    if (!scenario)
      throw new InputError(
        `--scenario ${flags.scenario}: not registered in ${scenariosPath} (known: ${scenarios.map((s) => s.id).join(', ') || 'none'})`,
      );
  } else if (trace.scenario) scenario = scenarios.find((s) => s.id === trace.scenario);
  const scenarioId = flags.scenario ?? trace.scenario;
  const base = loaded ? dirname(loaded.path) : flags.cwd;
  const goldenDir = goldenDirFor(flags, loaded, trace.app);
  const goldenPath =
    scenario?.golden && !flags.golden
      ? resolve(flags.cwd, scenario.golden)
      : goldenPathFor(goldenDir, scenarioId);
  const policyPath = flags.policy
    ? resolve(flags.cwd, flags.policy)
    : loaded?.manifest.policy
      ? resolve(base, loaded.manifest.policy)
      : join(dir, 'gate.yaml');
  return {
    manifest: loaded?.manifest,
    manifestPath: loaded?.path,
    scenario,
    scenarioId,
    goldenDir,
    goldenPath,
    policyPath,
    judges,
    scenarios,
  };
}

/** The golden directory: --golden, else the manifest's golden.dir, else golden/<app> (see the header). */
export function goldenDirFor(
  flags: { cwd: string; golden?: string },
  loaded: { path: string; manifest: Manifest } | undefined,
  app: string,
): string {
  const base = loaded ? dirname(loaded.path) : flags.cwd;
  if (flags.golden) return resolve(flags.cwd, flags.golden);
  if (loaded?.manifest.golden?.dir) return resolve(base, loaded.manifest.golden.dir);
  return resolve(base, 'golden', app);
}

export function loadSetupGolden(setup: JudgeSetup): LoadedGolden | null {
  return existsSync(setup.goldenPath) ? readGolden(setup.goldenPath) : null;
}
