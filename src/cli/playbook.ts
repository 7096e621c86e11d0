/** `replay-env playbook --app M`: the front door of manifest/playbook.ts. */
import { loadAppManifest } from '../manifest/load.js';
import { buildPlaybook, formatPlaybook } from '../manifest/playbook.js';
import { printJson } from './context.js';
import { positiveInt } from './options.js';
import type { RegisterCommand } from './registry.js';

export const registerPlaybook: RegisterCommand = (program, io) => {
  program
    .command('playbook')
    .description(
      "Print this app's replay steps (doctor, export, migrate, materialize, run, judge) from its manifest.",
    )
    .requiredOption('--app <manifest>', 'app manifest (path, or a name under config/apps/)')
    .option('--since-days <n>', 'export window used in the export step', positiveInt, 180)
    .option('--json', 'print the steps as JSON')
    .action((opts: { app: string; sinceDays: number; json?: boolean }) => {
      const loaded = loadAppManifest(opts.app, io.cwd);
      const playbook = buildPlaybook(loaded, opts.app, { sinceDays: opts.sinceDays, cwd: io.cwd });
      if (opts.json) printJson(io, playbook);
      else io.stdout(formatPlaybook(playbook));
    });
};
