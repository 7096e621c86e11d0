/**
 * The operating loop folder as data: loop.yaml names the loop's judges.yaml, scenarios.yaml
 * (judge/loop.ts) and gate.yaml (policy.ts). Every file is validated with zod; errors name the
 * file and the path.
 */
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { type JudgesConfig, loadJudgesConfig, loadScenarios, type Scenario } from '../judge/loop.js';
import { loopDir } from '../util/package-root.js';
import { readYamlFile, validateFile } from '../util/yaml-file.js';
import { type GatePolicy, loadPolicy } from './policy.js';

const text = z.string().min(1);

const loopFileSchema = z.strictObject({
  version: z.literal(1, { error: 'must be 1' }),
  id: text,
  title: text,
  objective: text,
  success: z.array(text).default([]),
  hardConstraints: z.array(text).min(1, { error: 'must list at least one hard constraint' }),
  evidence: z.array(z.strictObject({ id: text, description: text, trace: z.string().optional() })).min(1),
  memory: z.array(text).default([]),
  files: z
    .strictObject({ judges: text.optional(), gate: text.optional(), scenarios: text.optional() })
    .default({}),
});

export interface LoadedLoop {
  dir: string;
  loop: z.output<typeof loopFileSchema>;
  judges: JudgesConfig;
  gate: GatePolicy;
  scenarios: Scenario[];
  paths: { loop: string; judges: string; gate: string; scenarios: string };
}

/** Loads the whole loop folder (default: the shipped loops/user-history-replay). */
export function loadLoop(dir: string = loopDir()): LoadedLoop {
  const loopPath = join(dir, 'loop.yaml');
  const loop = validateFile(loopFileSchema, readYamlFile(loopPath, 'loop file'), loopPath, 'loop file');
  const paths = {
    loop: loopPath,
    judges: join(dirname(loopPath), loop.files.judges ?? 'judges.yaml'),
    gate: join(dirname(loopPath), loop.files.gate ?? 'gate.yaml'),
    scenarios: join(dirname(loopPath), loop.files.scenarios ?? 'scenarios.yaml'),
  };
  return {
    dir,
    loop,
    judges: loadJudgesConfig(paths.judges),
    gate: loadPolicy(paths.gate),
    scenarios: loadScenarios(paths.scenarios),
    paths,
  };
}
