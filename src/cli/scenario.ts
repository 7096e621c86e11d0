/**
 * `replay-env scenario add | list | remove`: the scenario registry from the command line (see
 * docs/scenarios.md). Each subcommand lives in its own file; `add` loads its work only when it runs.
 */
import type { RegisterCommand } from './registry.js';
import { registerScenarioAdd } from './scenario-add.js';
import { registerScenarioList } from './scenario-list.js';
import { registerScenarioRemove } from './scenario-remove.js';

export const registerScenario: RegisterCommand = (program, io) => {
  const parent = program
    .command('scenario')
    .description(
      'Turn an escaped bug into a regression scenario (add), list the scenario registry (list), remove one (remove).',
    );
  registerScenarioAdd(parent, io);
  registerScenarioList(parent, io);
  registerScenarioRemove(parent, io);
  // As main.ts does for the top-level commands: errors become exit codes, output goes to io.
  for (const cmd of [parent, ...parent.commands])
    cmd.exitOverride().configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
};
