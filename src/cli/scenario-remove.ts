/**
 * `replay-env scenario remove <id>`: takes the entry out of the registry (the rest of the file
 * as it was) and says what to do with its golden (committed: `git rm` it) and its capsule
 * (git-ignored, local: delete it; an artifact expires on its own). It deletes no file itself.
 */
import { relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_REGISTRY, openRegistry, removeScenario, writeRegistry } from '../scenario/registry-file.js';
import { type CliIO, printJson } from './context.js';
import { goldenDirOption, type ScenarioFiles, scenarioFiles } from './scenario-files.js';

interface RemoveFlags {
  scenariosFile: string;
  app?: string;
  json?: boolean;
}

export function registerScenarioRemove(parent: Command, io: CliIO): void {
  parent
    .command('remove')
    .description('Remove a scenario from the registry and say what to do with its golden and capsule.')
    .argument('<id>', 'the scenario id')
    .option('--scenarios-file <file>', 'the scenario registry', DEFAULT_REGISTRY)
    .option('--app <manifest>', 'the app manifest (its golden dir, for a scenario without `golden`)')
    .option('--json', 'print one JSON document (schema/scenario-remove-output.schema.json)')
    .action((id: string, flags: RemoveFlags) => removeCommand(id, flags, io));
}

function nextSteps(registry: string, files: ScenarioFiles): string[] {
  const steps = [];
  if (files.golden.exists) steps.push(`delete its golden with the change: git rm ${files.golden.path}`);
  if (files.capsule.path && files.capsule.exists)
    steps.push(
      `its capsule is local (git-ignored): delete it when no other scenario uses it: rm ${files.capsule.path}`,
    );
  if (files.capsule.artifact)
    steps.push(
      `its capsule is the artifact "${files.capsule.artifact}": it expires on its own; stop uploading it if nothing else uses it`,
    );
  steps.push(`commit ${registry}${files.golden.exists ? ` and the removed ${files.golden.path}` : ''}`);
  return steps;
}

function removeCommand(id: string, flags: RemoveFlags, io: CliIO): void {
  const repo = resolve(io.cwd);
  const registry = openRegistry(resolve(repo, flags.scenariosFile));
  const goldenDir = goldenDirOption(repo, flags.app);
  const removed = removeScenario(registry, id);
  writeRegistry(registry);
  const shown = relative(repo, registry.path) || registry.path;
  const files = scenarioFiles(repo, removed, goldenDir);
  const next = nextSteps(shown, files);
  if (flags.json) {
    printJson(io, { kind: 'replay-env.scenario-remove', registry: shown, removed, ...files, next });
    return;
  }
  io.stdout(`removed scenario ${id} from ${shown}\nnext:\n${next.map((s) => `  - ${s}\n`).join('')}`);
}
