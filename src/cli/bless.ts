/**
 * `replay-env bless --trace T --golden DIR [--second-trace T2]`: write the normalised golden of a
 * good trace (with provenance); with a second trace of the same build, learn its noise.
 * Refuses a trace whose own gate is block, and refuses in CI (CI=true) unless --force.
 */
import { resolve } from 'node:path';
import { blessTrace } from '../judge/bless.js';
import { resolveSetup } from '../judge/setup.js';
import { readTrace } from '../judge/trace-file.js';
import type { RegisterCommand } from './registry.js';
import { scenarioIdArg } from './scenario-arg.js';

interface BlessFlags {
  trace: string;
  golden?: string;
  secondTrace?: string;
  scenario?: string;
  force?: boolean;
  app?: string;
  json?: boolean;
}

export const registerBless: RegisterCommand = (program, io) => {
  program
    .command('bless')
    .description(
      'Promote a good trace to the golden trace of its app/scenario (learns noise from a second trace).',
    )
    .requiredOption('--trace <file>', 'the trace to bless')
    .option(
      '--golden <dir>',
      'directory of golden traces (default: manifest golden.dir, else golden/<appId>)',
    )
    .option(
      '--second-trace <file>',
      'a second trace of the same build: every field that differs becomes noise',
    )
    .option(
      '--scenario <id>',
      'scenario id naming the golden (default: the trace’s scenario, else "default")',
      scenarioIdArg,
    )
    .option('--force', 'write even when CI=true (goldens normally change through review)')
    .option('--app <manifest>', 'the app manifest (for golden.dir)')
    .option('--json', 'print the result as JSON')
    .action((flags: BlessFlags) => {
      const first = readTrace(resolve(io.cwd, flags.trace));
      const second = flags.secondTrace ? readTrace(resolve(io.cwd, flags.secondTrace)) : undefined;
      // Only the golden dir is resolved here; a scenario need not be registered to be blessed.
      const setup = resolveSetup({ cwd: io.cwd, app: flags.app, golden: flags.golden }, first.trace);
      const result = blessTrace({
        trace: first.trace,
        tracePath: first.path,
        secondTrace: second?.trace,
        secondTracePath: second?.path,
        goldenDir: setup.goldenDir,
        scenario: flags.scenario,
        ci: io.env.CI === 'true',
        force: flags.force,
      });
      if (flags.json) {
        io.stdout(
          `${JSON.stringify(
            {
              path: result.path,
              probes: Object.keys(result.golden.probes),
              noise: result.golden.noise,
              learned: result.learned,
              kept: result.kept,
              replaced: result.replaced,
              notes: result.notes,
            },
            null,
            2,
          )}\n`,
        );
        return;
      }
      const probes = Object.keys(result.golden.probes).length;
      io.stdout(
        `${result.replaced ? 'replaced' : 'wrote'} golden ${result.path}: ${probes} probe(s), ${result.golden.noise.length} noise path(s)` +
          `${second ? ` (${result.learned.length} learned from the second trace)` : ''}\n`,
      );
      for (const p of result.learned) io.stdout(`  noise: ${p}\n`);
      for (const n of result.notes) io.stderr(`note: ${n}\n`);
      io.stdout('review the golden and commit it with your change\n');
    });
};
