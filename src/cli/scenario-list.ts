/** `replay-env scenario list`: the scenario registry, one line per scenario (or --json). */
import { relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_REGISTRY, openRegistry } from '../scenario/registry-file.js';
import { type CliIO, printJson } from './context.js';
import { goldenDirOption, scenarioFiles } from './scenario-files.js';

interface ListFlags {
  scenariosFile: string;
  app?: string;
  json?: boolean;
}

export function registerScenarioList(parent: Command, io: CliIO): void {
  parent
    .command('list')
    .description('List the scenario registry: id, risk, requiredFor, capsule, golden, bug.')
    .option('--scenarios-file <file>', 'the scenario registry', DEFAULT_REGISTRY)
    .option('--app <manifest>', 'the app manifest (its golden dir, for scenarios without `golden`)')
    .option('--json', 'print one JSON document (schema/scenario-list-output.schema.json)')
    .action((flags: ListFlags) => listScenarios(flags, io));
}

function listScenarios(flags: ListFlags, io: CliIO): void {
  const repo = resolve(io.cwd);
  const registry = openRegistry(resolve(repo, flags.scenariosFile));
  const goldenDir = goldenDirOption(repo, flags.app);
  const rows = registry.scenarios.map((s) => {
    const files = scenarioFiles(repo, s, goldenDir);
    return {
      ...s,
      goldenPath: files.golden.path,
      goldenExists: files.golden.exists,
      capsuleExists: files.capsule.exists,
    };
  });
  const shown = relative(repo, registry.path) || registry.path;
  if (flags.json) {
    printJson(io, {
      kind: 'replay-env.scenario-list',
      registry: shown,
      exists: registry.exists,
      scenarios: rows,
    });
    return;
  }
  if (rows.length === 0) {
    io.stdout(
      `${shown}: no scenarios${registry.exists ? '' : ' (no registry file yet)'}; add one with replay-env scenario add\n`,
    );
    return;
  }
  const lines = [`${shown}: ${rows.length} scenario${rows.length === 1 ? '' : 's'}`];
  for (const r of rows) {
    const capsule =
      'path' in r.capsule
        ? `${r.capsule.path}${r.capsuleExists ? '' : ' (not here)'}`
        : `artifact ${r.capsule.artifact}`;
    lines.push(`${r.id}  [${r.risk}; ${r.requiredFor.join(', ') || 'not required'}]  ${r.title}`);
    lines.push(
      `    capsule: ${capsule}; golden: ${r.goldenPath}${r.goldenExists ? '' : ' (not blessed yet)'}${r.bug ? `; bug: ${r.bug}` : ''}`,
    );
  }
  io.stdout(`${lines.join('\n')}\n`);
}
