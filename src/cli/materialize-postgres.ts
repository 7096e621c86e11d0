/** `replay-env materialize-postgres`: the front door of postgres/materialize. */

import { resolve } from 'node:path';
import { Option } from 'commander';
import { capsuleKeyFromEnv, capsuleOpenOptionsFor } from '../capsule/encryption.js';
import { FailureError, InterruptedError } from '../errors.js';
import { loadAppManifest } from '../manifest/load.js';
import type { Manifest } from '../manifest/schema.js';
import { type RequestedRewrite, requestedRewrite } from '../manifest/subject-rewrite.js';
import {
  DEFAULT_CHUNK_SIZE,
  DEFAULT_STRATEGY,
  type LoadStrategy,
  type MaterializeResult,
  materializeCapsule,
  planMaterialization,
} from '../postgres/materialize/materialize-capsule.js';
import { describeRewrite } from '../postgres/materialize/plan.js';
import { assertManifestSingleStatements } from '../postgres/single-statement.js';
import { displayUrl } from '../postgres/target-safety.js';
import { runCwd } from '../run/run-state.js';
import { databaseEnv, runMigration, runSetupCommands } from '../run/schema-steps.js';
import { type CliIO, printJson } from './context.js';
import { materializeJson } from './json-shapes.js';
import { collectKeyValue, DELETE_DEPENDENTS_HELP, oneOf, positiveInt } from './options.js';
import type { RegisterCommand } from './registry.js';
import { checkGivenReplayUrl } from './replay-url.js';
import { addZeroSetupOptions, finishTarget, type ZeroSetupTarget, zeroSetupTarget } from './zero-setup.js';

interface MaterializeCliOptions {
  app: string;
  capsule: string;
  dbUrl?: string;
  loadStrategy: LoadStrategy;
  chunkSize: number;
  useLocalSubject?: boolean;
  rewriteSubject?: [string, string][];
  dryRunSql?: boolean;
  explain?: boolean;
  profile?: boolean;
  json?: boolean;
  allowRemote?: boolean;
  disableTriggers?: boolean;
  deleteDependents?: boolean;
  verifyHashes: boolean;
  createSchema?: boolean;
  replaceSchema?: boolean;
  keepDb?: boolean;
  migrate: boolean;
}

export const registerMaterializePostgres: RegisterCommand = (program, io) => {
  program
    .command('materialize-postgres')
    .description(
      'Load a capsule into the replay database: one transaction, exact values, streaming, verified counts.',
    )
    .requiredOption('--app <manifest>', 'app manifest (path, or a name under config/apps/)')
    .requiredOption(
      '--capsule <file>',
      'capsule to load (.json, .json.gz or encrypted: key in REPLAY_CAPSULE_KEY)',
    )
    .option('--db-url <url>', 'replay database (default: the env var named by postgres.replayDatabaseUrlEnv)')
    .addOption(
      new Option(
        '--load-strategy <strategy>',
        'copy streams COPY FROM STDIN; jsonb uses jsonb_populate_recordset',
      )
        .argParser(oneOf(['jsonb', 'copy'] as const))
        .default(DEFAULT_STRATEGY),
    )
    .option('--chunk-size <n>', 'rows per chunk', positiveInt, DEFAULT_CHUNK_SIZE)
    .option('--use-local-subject', "rewrite the capsule's subject to the manifest's localSubject")
    .option('--rewrite-subject <key=value>', 'rewrite one subject key (repeatable)', collectKeyValue)
    .option('--allow-remote', 'allow a remote (non-local, non-production-looking) target such as staging')
    .option(
      '--disable-triggers',
      'load with session_replication_role = replica (no triggers, no FK checks; superuser)',
    )
    .option('--delete-dependents', DELETE_DEPENDENTS_HELP)
    .option(
      '--no-verify-hashes',
      "skip recomputing the capsule's content hashes after loading (counts are still checked)",
    )
    .option('--dry-run-sql', 'print the statements (data rows elided beyond a few); do not connect')
    .option('--explain', 'EXPLAIN the deletes and inserts in a transaction that is rolled back')
    .option('--profile', 'print phase timings to stderr')
    .option('--json', 'print a machine-readable result')
    .option('--no-migrate', "do not run the manifest's migrate command after loading");
  // Zero-setup (cli/zero-setup.ts): --create-schema, --replace-schema, --keep-db, embedded default.
  addZeroSetupOptions(program.commands.at(-1)!)
    .addHelpText(
      'after',
      '\nExit codes: 0 loaded and verified, 1 the load failed (nothing changed in the target), 2 bad input.\nWith no --db-url and no replay-URL env var, a throwaway embedded PostgreSQL is used (see docs/zero-setup.md).',
    )
    .action(async (opts: MaterializeCliOptions) => {
      const loaded = loadAppManifest(opts.app, io.cwd);
      const { manifest } = loaded;
      await assertManifestSingleStatements(manifest, loaded.path);
      const capsulePath = resolve(io.cwd, opts.capsule);
      // Encrypted capsules: the key comes from REPLAY_CAPSULE_KEY (docs/encryption.md).
      const open = capsuleOpenOptionsFor(capsuleKeyFromEnv(io.env, io.cwd));
      const rewrite = requestedRewrite(manifest, loaded.path, opts);

      if (opts.dryRunSql) {
        io.stdout(
          await planMaterialization({
            manifest,
            capsulePath,
            open,
            strategy: opts.loadStrategy,
            chunkSize: opts.chunkSize,
            rewrite: rewrite?.values,
            rewriteSource: rewrite?.source,
          }),
        );
        return;
      }

      checkGivenReplayUrl(manifest, opts, io, {
        doing: 'materialize into',
        productionNote: 'materialize deletes and rewrites rows',
      });
      const zs = await zeroSetupTarget(io, manifest, capsulePath, opts, open);
      try {
        await materializeZeroSetup(io, manifest, loaded.path, capsulePath, rewrite, opts, zs);
      } finally {
        await finishTarget(io, zs, opts.keepDb);
      }
    });
};

async function materializeZeroSetup(
  io: CliIO,
  manifest: Manifest,
  manifestPath: string,
  capsulePath: string,
  rewrite: RequestedRewrite | undefined,
  opts: MaterializeCliOptions,
  zs: ZeroSetupTarget,
): Promise<void> {
  const url = zs.target.url;
  const interrupted = (what: string) => {
    if (io.signal?.aborted) throw new InterruptedError(what);
  };
  interrupted('materialize interrupted before loading; nothing was loaded');
  const stepCtx = { cwd: runCwd(manifest, manifestPath, io.cwd), env: databaseEnv(manifest, io.env, url) };
  if (zs.runSetup) {
    const setup = await runSetupCommands(manifest, stepCtx);
    if (setup.error) throw new FailureError(setup.error);
    interrupted('materialize interrupted after the setup commands; nothing was loaded');
  }
  const result = await materializeCapsule({
    manifest,
    capsulePath,
    open: capsuleOpenOptionsFor(capsuleKeyFromEnv(io.env, io.cwd)),
    url,
    strategy: opts.loadStrategy,
    chunkSize: opts.chunkSize,
    rewrite: rewrite?.values,
    rewriteSource: rewrite?.source,
    disableTriggers: opts.disableTriggers,
    deleteDependents: opts.deleteDependents === true,
    explain: opts.explain,
    verifyHashes: opts.verifyHashes,
    ...(zs.prepareTarget ? { prepareTarget: zs.prepareTarget } : {}),
    signal: io.signal,
  });
  if (opts.migrate && !opts.explain && manifest.migrate)
    interrupted(
      'materialize interrupted after the load was committed (the target holds the capsule); the migration did not run',
    );
  // Migration replay: the app's new migrations over the data just loaded.
  const migrated = opts.migrate && !opts.explain ? await runMigration(manifest, stepCtx) : null;
  if (opts.profile) {
    if (zs.target.embedded) io.stderr(`embedded PostgreSQL startup: ${zs.target.startupMs} ms\n`);
    const sr = zs.schemaReport();
    if (sr)
      io.stderr(
        `create schema: ${sr.ms} ms (${sr.tables.length} tables, ${sr.constraints} constraints, ${sr.indexes} indexes)\n`,
      );
    printProfile(io, result);
  }
  const zeroSetup = {
    schemaSource: zs.schemaSource,
    embedded: zs.target.embedded,
    startupMs: zs.target.startupMs,
    ...(zs.schemaReport() ? { createSchema: zs.schemaReport() } : {}),
    ...(migrated
      ? { migration: { ok: !migrated.error, ...(migrated.migration ?? { command: manifest.migrate!.run }) } }
      : {}),
  };
  if (opts.json) {
    // A kept embedded server is local and throwaway: its full URL is what the caller needs.
    const target = zs.target.embedded && opts.keepDb ? url : displayUrl(url);
    printJson(io, { target, capsule: capsulePath, ...materializeJson(result), ...zeroSetup });
    if (migrated?.error) throw new FailureError(migrated.error);
    return;
  }
  if (migrated?.error) throw new FailureError(migrated.error);
  if (result.explain) {
    for (const e of result.explain) io.stdout(`${e.statement}\n${indent(e.plan)}\n\n`);
    io.stdout('(explain only: the transaction was rolled back)\n');
    return;
  }
  printSummary(io, result, displayUrl(url));
  if (zs.schemaSource !== 'existing')
    io.stdout(
      `schema: from the ${zs.schemaSource === 'capsule' ? "capsule's schema section" : "manifest's setup commands"}\n`,
    );
  if (migrated) io.stdout(`migration "${manifest.migrate!.name}": ok\n`);
}

function printSummary(io: CliIO, r: MaterializeResult, target: string): void {
  const rows = r.counts.map((c) => [
    c.table,
    String(c.capsule),
    c.database === null ? '-' : String(c.database),
    c.hashMatch === true ? 'match' : c.hashMatch === false ? 'DIFFERS' : '-',
  ]);
  const head = ['table', 'capsule', 'database', 'content hash'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const fmt = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const total = r.counts.reduce((s, c) => s + c.capsule, 0);
  io.stdout(
    `materialized ${total} rows into ${target} (strategy ${r.strategy}, ${r.durationMs} ms, one transaction)\n`,
  );
  io.stdout(`${fmt(head)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n`);
  for (const row of rows) io.stdout(`${fmt(row)}\n`);
  const hashNote = {
    verified: 'content hashes recomputed from the loaded rows',
    'no-integrity-record': 'the capsule has no integrity record: counts checked, content not hashed',
    'skipped-after-rewrite': 'content hashes not compared: the subject rewrite changed values on purpose',
    disabled: 'content hash check disabled (--no-verify-hashes)',
  }[r.hashCheck];
  io.stdout(`${hashNote}\n`);
  if (r.closure)
    io.stdout(
      `closure: ${r.closure.rows} rows, ${r.closure.alreadyPresent} already present${
        r.closure.alreadyPresent > 0 ? ' (kept as they were in the target)' : ''
      }\n`,
    );
  if (r.rewritten)
    io.stdout(`subject rewritten: ${describeRewrite(r.rewritten)} (${r.rewritten.values} values replaced)\n`);
  else io.stdout('subject not rewritten\n');
  for (const s of r.sequences) io.stdout(`sequence ${s.sequence} moved to ${s.value}\n`);
  for (const d of r.dependents)
    io.stdout(
      `deleted dependents (--delete-dependents): ${d.rows} row${d.rows === 1 ? '' : 's'} of ${d.table} referencing ${d.references} (${d.constraint})\n`,
    );
  for (const w of r.warnings) io.stderr(`warning: ${w}\n`);
}

function printProfile(io: CliIO, r: MaterializeResult): void {
  io.stderr('materialize profile:\n');
  for (const [name, ms] of Object.entries(r.phases)) {
    if (name.startsWith('load:')) continue;
    io.stderr(`  ${name.padEnd(12)} ${String(ms).padStart(8)} ms\n`);
    if (name === 'delete')
      for (const t of r.tables)
        io.stderr(
          `    load ${t.table.padEnd(24)} ${String(t.rows).padStart(9)} rows ${String(t.ms).padStart(7)} ms ${String(t.rowsPerSec).padStart(8)} rows/s (${t.strategy})\n`,
        );
  }
  io.stderr(`  ${'total'.padEnd(12)} ${String(r.durationMs).padStart(8)} ms\n`);
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}
