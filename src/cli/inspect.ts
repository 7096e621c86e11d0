/** `replay-env inspect CAPSULE`: the front door of capsule/inspect.ts. */
import { resolve } from 'node:path';
import { capsuleKeyFromEnv, capsuleOpenOptionsFor } from '../capsule/encryption.js';
import { formatInspection, inspectCapsule } from '../capsule/inspect.js';
import { printJson } from './context.js';
import type { RegisterCommand } from './registry.js';

export const registerInspect: RegisterCommand = (program, io) => {
  program
    .command('inspect')
    .description(
      "Summarise a capsule without loading it: app, window, subject, graph, per-table row counts, integrity, the file's size and sha256.",
    )
    .argument('<capsule>', 'capsule file (.json, .json.gz or encrypted: key in REPLAY_CAPSULE_KEY)')
    .option('--json', 'print a machine-readable report')
    .option(
      '--max-subjects <n>',
      'graph subjects listed in the text output',
      (v) => Number.parseInt(v, 10),
      50,
    )
    .action(async (capsule: string, opts: { json?: boolean; maxSubjects: number }) => {
      const open = capsuleOpenOptionsFor(capsuleKeyFromEnv(io.env, io.cwd));
      const report = await inspectCapsule(resolve(io.cwd, capsule), open);
      report.file.path = capsule;
      if (opts.json) printJson(io, report);
      else io.stdout(formatInspection(report, opts.maxSubjects));
    });
};
