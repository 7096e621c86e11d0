/** `replay-env doctor`: the front door of postgres/doctor/report.ts and postgres/doctor/checks.ts. */
import { relative } from 'node:path';
import { loadAppManifest } from '../manifest/load.js';
import { replayUrlEnv } from '../manifest/schema.js';
import { liveChecks } from '../postgres/doctor/checks.js';
import { type DoctorReport, formatDoctorReport, runDoctor } from '../postgres/doctor/report.js';
import { printJson } from './context.js';
import type { RegisterCommand } from './registry.js';

interface DoctorOptions {
  app: string;
  dbUrl?: string;
  strict?: boolean;
  allowRemote?: boolean;
  json?: boolean;
}

export const registerDoctor: RegisterCommand = (program, io, setExitCode) => {
  program
    .command('doctor')
    .description(
      'Check a manifest, and with a database URL check it against the live schema (tables, columns, load order, foreign keys).',
    )
    .requiredOption('--app <manifest>', 'app manifest (path, or a name under config/apps/)')
    .option(
      '--db-url <url>',
      'database to check (default: the env var named by postgres.replayDatabaseUrlEnv)',
    )
    .option('--strict', 'treat warnings as failures')
    .option('--allow-remote', 'allow a remote (non-local, non-production-looking) database, e.g. staging')
    .option('--json', 'print a machine-readable report')
    .addHelpText(
      'after',
      '\nExit codes: 0 nothing failed, 1 a check failed (or warned, with --strict), 2 bad input (e.g. an invalid manifest).',
    )
    .action(async (opts: DoctorOptions) => {
      const loaded = loadAppManifest(opts.app, io.cwd);
      const displayPath = displayPathOf(loaded.path, io.cwd);
      const envName = replayUrlEnv(loaded.manifest);
      const fromEnv = io.env[envName];
      const database = opts.dbUrl
        ? { url: opts.dbUrl, source: '--db-url' }
        : fromEnv
          ? { url: fromEnv, source: envName }
          : undefined;
      const report: DoctorReport = await runDoctor({
        loaded,
        displayPath,
        database,
        noDatabaseNote: `live checks skipped: no --db-url and ${envName} is not set`,
        allowRemote: opts.allowRemote ?? false,
        strict: opts.strict ?? false,
        liveChecks,
      });
      if (opts.json) printJson(io, report);
      else io.stdout(formatDoctorReport(report));
      if (!report.ok) setExitCode(1);
    });
};

function displayPathOf(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel && !rel.startsWith('..') ? rel : path;
}
