/**
 * Zero-setup options shared by `materialize-postgres` and `run` (not a command itself):
 * `--create-schema`, `--replace-schema`, `--keep-db`, and the embedded default — with no
 * `--db-url` and no replay-URL env var, a throwaway embedded PostgreSQL is started, the schema
 * comes from the capsule (or the manifest's `setup` commands), and the server is removed at the end.
 */
import type { Command } from 'commander';
import type { OpenOptions } from '../capsule/open.js';
import { scanCapsule } from '../capsule/reader.js';
import { InputError } from '../errors.js';
import { type Manifest, replayUrlEnv } from '../manifest/schema.js';
import type { PrepareTarget } from '../postgres/materialize/materialize-capsule.js';
import { type CreateSchemaReport, createSchemaHook } from '../postgres/materialize/zero-setup.js';
import { type ReplayTarget, resolveReplayTarget } from '../postgres/replay-target.js';
import type { CliIO } from './context.js';
import { waitUntilInterrupted } from './signals.js';

export interface ZeroSetupCliOptions {
  dbUrl?: string;
  createSchema?: boolean;
  replaceSchema?: boolean;
  keepDb?: boolean;
}

export function addZeroSetupOptions(cmd: Command): Command {
  return cmd
    .option(
      '--create-schema',
      "create the tables from the capsule's schema section first (the database must not have them)",
    )
    .option(
      '--replace-schema',
      'with --create-schema: drop and recreate tables that already exist (their data is lost)',
    )
    .option(
      '--keep-db',
      'with the embedded default (no --db-url): keep the throwaway server running and print its URL until interrupted',
    );
}

export interface ZeroSetupTarget {
  target: ReplayTarget;
  /** For materializeCapsule / runReplay: create the capsule's schema inside the load transaction. */
  prepareTarget?: PrepareTarget;
  /** Run the manifest's `setup` commands on the empty database before loading. */
  runSetup: boolean;
  schemaSource: 'capsule' | 'setup' | 'existing';
  /** Filled when the capsule's schema was created. */
  schemaReport(): CreateSchemaReport | undefined;
}

/**
 * Where to materialize and how its schema comes to be. The caller must `target.stop()` (also on
 * failure) — or call `finishTarget`.
 */
export async function zeroSetupTarget(
  io: CliIO,
  manifest: Manifest,
  capsulePath: string | undefined,
  opts: ZeroSetupCliOptions,
  capsuleOpen?: OpenOptions,
): Promise<ZeroSetupTarget> {
  if (opts.replaceSchema && !opts.createSchema && (opts.dbUrl || io.env[replayUrlEnv(manifest)]))
    throw new InputError('--replace-schema only applies with --create-schema');
  const envUrl = io.env[replayUrlEnv(manifest)];
  const embedded = !opts.dbUrl && !envUrl;
  if (!embedded && opts.keepDb)
    throw new InputError('--keep-db only applies to the embedded database (no --db-url)');
  const fromCapsule = opts.createSchema === true;
  let runSetup = false;
  if (embedded && capsulePath && !fromCapsule) {
    const scan = await scanCapsule(capsulePath, capsuleOpen ?? {});
    if ((manifest.setup ?? []).length > 0) runSetup = true;
    else if (scan.header.schema !== undefined)
      throw new InputError(
        `the embedded database is empty and the manifest has no setup commands: pass --create-schema to create the tables from ${capsulePath}'s schema section (its statements are parsed and checked first), or add the app's migrations as "setup" commands`,
      );
    else
      throw new InputError(
        `${capsulePath} carries no schema section and the manifest has no setup commands, so the embedded database would have no tables: export the capsule again with this replay-env (it records the schema), add the app's migrations as "setup" commands, or pass --db-url to a database that has the schema`,
      );
  }
  const target = await resolveReplayTarget({ url: opts.dbUrl, envUrl });
  if (target.embedded)
    io.stderr(
      `replay-env: no --db-url and no ${replayUrlEnv(manifest)}: using a throwaway embedded PostgreSQL (started in ${target.startupMs} ms; removed afterwards${opts.keepDb ? ', kept until interrupted (--keep-db)' : ''})\n`,
    );
  let report: CreateSchemaReport | undefined;
  return {
    target,
    ...(fromCapsule && capsulePath
      ? {
          prepareTarget: createSchemaHook({
            capsulePath,
            replace: opts.replaceSchema,
            report: (r) => {
              report = r;
            },
          }),
        }
      : {}),
    runSetup,
    schemaSource: fromCapsule ? 'capsule' : runSetup ? 'setup' : 'existing',
    schemaReport: () => report,
  };
}

/** After the command: stop the embedded server, or with --keep-db hold it until interrupted. */
export async function finishTarget(
  io: CliIO,
  t: ZeroSetupTarget,
  keepDb: boolean | undefined,
): Promise<void> {
  if (t.target.embedded && keepDb) {
    io.stderr(
      `replay-env: the replay database is running at ${t.target.url}\nreplay-env: press Ctrl-C (or send SIGTERM) to stop and remove it\n`,
    );
    await waitUntilInterrupted();
  }
  await t.target.stop();
}
