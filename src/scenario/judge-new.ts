/**
 * Judging the new scenario's first replay, as `judge --trace T --app M --scenario <id>` will once
 * it is registered: the manifest's golden dir and policy, the loop's judges (judges.yaml beside
 * the registry when the repository has its own loop folder, as the Action looks for it, else the
 * shipped one), and the scenario itself — passed in, since it is registered only after this
 * replay could run. The golden is the entry's `golden` (usually absent on a first run).
 */
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { judgeTrace } from '../gate/judge-trace.js';
import { loadPolicy } from '../gate/policy.js';
import { readGolden } from '../judge/golden.js';
import type { Scenario } from '../judge/loop.js';
import type { Judgement } from '../judge/schema.js';
import { resolveSetup } from '../judge/setup.js';
import type { Trace } from '../trace/schema.js';

export interface JudgeNewScenario {
  trace: Trace;
  tracePath: string;
  scenario: Scenario;
  /** Absolute path of the scenario's golden file. */
  goldenPath: string;
  manifestPath: string;
  registryPath: string;
  /** The repository root. */
  cwd: string;
}

/** A loop folder of the repository's own (judges.yaml beside a scenarios.yaml registry), if any. */
function repositoryLoop(registryPath: string): string | undefined {
  const dir = dirname(registryPath);
  return basename(registryPath) === 'scenarios.yaml' &&
    existsSync(registryPath) &&
    existsSync(join(dir, 'judges.yaml'))
    ? dir
    : undefined;
}

export function judgeNewScenario(input: JudgeNewScenario): Judgement {
  const loop = repositoryLoop(input.registryPath);
  const setup = resolveSetup(
    { cwd: input.cwd, app: input.manifestPath, ...(loop ? { loop } : {}) },
    input.trace,
  );
  return judgeTrace({
    trace: input.trace,
    tracePath: input.tracePath,
    golden: existsSync(input.goldenPath) ? readGolden(input.goldenPath) : null,
    goldenPath: input.goldenPath,
    policy: loadPolicy(setup.policyPath),
    ...(setup.manifest ? { manifest: setup.manifest } : {}),
    scenario: input.scenario,
    judges: setup.judges,
    repoRoot: input.cwd,
  });
}
