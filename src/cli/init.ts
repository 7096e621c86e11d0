/**
 * `replay-env init`: drafts a manifest from a database's schema (manifest/draft.ts). It reads the
 * catalog only, in a read-only transaction: point it at a schema-only copy of production or at a
 * development database. Never overwrites a file unless --force.
 */
import { existsSync } from 'node:fs';
import { basename, relative, resolve } from 'node:path';
import { InputError } from '../errors.js';
import { draftManifest } from '../manifest/draft.js';
import { manifestSchema } from '../manifest/schema.js';
import { readForeignKeys, readSchemaTables } from '../postgres/catalog.js';
import { withClient } from '../postgres/connect.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { printJson } from './context.js';
import type { RegisterCommand } from './registry.js';

interface InitOptions {
  dbUrl: string;
  subjectKey: string[];
  appId?: string;
  out?: string;
  schema: string;
  force?: boolean;
  json?: boolean;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

export const registerInit: RegisterCommand = (program, io) => {
  program
    .command('init')
    .description(
      "Draft a manifest from a database's schema: subject tables, their foreign-key children, redaction rules for personal-looking columns, a first probe.",
    )
    .requiredOption('--db-url <url>', 'database to read the schema from (catalog only, read-only)')
    .requiredOption(
      '--subject-key <column>',
      'a subject key column, e.g. tenant_id (repeat for each)',
      collect,
    )
    .option('--app-id <name>', 'the app name (default: from --out, else the database name)')
    .option('--out <file>', 'manifest to write (default: config/apps/<app-id>.json)')
    .option('--schema <name>', 'the schema to read', 'public')
    .option('--force', 'overwrite --out if it exists')
    .option('--json', 'print a machine-readable result')
    .addHelpText('after', '\nExit codes: 0 written, 1 the database could not be read, 2 bad input.')
    .action(async (opts: InitOptions) => {
      const keys = [...new Set(opts.subjectKey)];
      const bad = keys.filter((k) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(k));
      if (bad.length > 0)
        throw new InputError(`--subject-key ${bad[0]}: must be a plain column name (letters, digits, _)`, {
          field: '--subject-key',
        });
      const appId =
        opts.appId ?? (opts.out ? basename(opts.out).replace(/\.json$/, '') : databaseName(opts.dbUrl));
      const out = resolve(io.cwd, opts.out ?? `config/apps/${appId}.json`);
      if (existsSync(out) && !opts.force)
        throw new InputError(`--out: ${shown(io.cwd, out)} already exists; pass --force to replace it`, {
          field: '--out',
        });
      const catalog = await withClient(
        opts.dbUrl,
        { role: 'schema source', applicationName: 'replay-env init', statementTimeoutMs: 30_000 },
        async (c) => {
          await c.query('begin transaction read only');
          try {
            return {
              tables: await readSchemaTables(c, opts.schema),
              fks: await readForeignKeys(c, opts.schema),
            };
          } finally {
            await c.query('rollback').catch(() => {});
          }
        },
      );
      if (catalog.tables.length === 0)
        throw new InputError(
          `--db-url: schema ${opts.schema} has no tables; point init at a database with the app's schema`,
          {
            field: '--db-url',
          },
        );
      const draft = draftManifest({
        appId,
        subjectKeys: keys,
        tables: catalog.tables,
        foreignKeys: catalog.fks,
      });
      // The draft must be a valid manifest (a bug otherwise, not the user's input).
      manifestSchema.parse(draft.manifest);
      writeFileAtomic(out, `${JSON.stringify(draft.manifest, null, 2)}\n`, 'manifest');
      const path = shown(io.cwd, out);
      if (opts.json) {
        printJson(io, {
          path: out,
          appId,
          tables: draft.tables,
          skipped: draft.skipped,
          redactions: draft.redactions,
          notes: draft.notes,
        });
        return;
      }
      io.stdout(
        `wrote ${path} (${draft.tables.length} tables, ${draft.redactions.length} redaction rules)\n`,
      );
      for (const t of draft.tables) io.stdout(`  ${t.name}: ${t.reason}\n`);
      if (draft.skipped.length > 0) io.stdout(`  not drafted: ${draft.skipped.join(', ')}\n`);
      io.stdout('next:\n');
      for (const n of draft.notes) io.stdout(`  - ${n.replace('<this file>', path)}\n`);
    });
};

function databaseName(url: string): string {
  try {
    const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
    return name || 'app';
  } catch {
    throw new InputError('--db-url: not a postgres:// URL', { field: '--db-url' });
  }
}

function shown(cwd: string, p: string): string {
  const rel = relative(cwd, p);
  return rel && !rel.startsWith('..') ? rel : p;
}
