/** `replay-env export-postgres`: the front door of postgres/export/export-capsule.ts. */
import { relative, resolve } from 'node:path';
import { Option } from 'commander';
import { CAPSULE_KEY_ENV } from '../capsule/encryption.js';
import { InputError } from '../errors.js';
import { emptyTableWarnings } from '../manifest/empty-tables.js';
import { loadAppManifest } from '../manifest/load.js';
import { type Manifest, prodUrlEnv } from '../manifest/schema.js';
import {
  type ExportProgress,
  type ExportResult,
  explainExport,
  exportCapsule,
  type RedactionMode,
} from '../postgres/export/export-capsule.js';
import { buildExportSql, DEFAULT_SINCE_DAYS, formatDryRunSql } from '../postgres/export/sql.js';
import { zeroSetupHooks } from '../postgres/export/zero-setup.js';
import { assertManifestSingleStatements } from '../postgres/single-statement.js';
import { checkOutputTarget } from '../util/output-target.js';
import { type CliIO, printJson } from './context.js';
import { collectValues, encryptionKeyFor, encryptionSummary } from './encryption-options.js';
import { exportJson } from './json-shapes.js';
import { collectKeyValue, nonNegativeInt, oneOf, positiveInt } from './options.js';
import type { RegisterCommand } from './registry.js';

interface ExportCliOptions {
  app: string;
  subject?: [string, string][];
  out?: string;
  dbUrl?: string;
  sinceDays: number;
  redaction: RedactionMode;
  dryRunSql?: boolean;
  explain?: boolean;
  profile?: boolean;
  json?: boolean;
  statementTimeout?: number;
  allowFindings?: boolean;
  allowEmpty?: boolean;
  schema: boolean;
  closure: boolean;
  encrypt?: boolean;
  encryptTo?: string[];
}

export const registerExportPostgres: RegisterCommand = (program, io) => {
  program
    .command('export-postgres')
    .description(
      "Export one subject's graph from Postgres into a capsule (streaming, exact values, redacted by default, read-only).",
    )
    .requiredOption('--app <manifest>', 'app manifest (path, or a name under config/apps/)')
    .option('--subject <key=value>', 'subject key value (repeat for every subject key)', collectKeyValue)
    .option(
      '--out <file>',
      'capsule to write (.json, or .json.gz for gzip; .json.enc / .json.gz.enc with --encrypt)',
    )
    .option('--db-url <url>', 'source database (default: the env var named by postgres.prodDatabaseUrlEnv)')
    .option('--since-days <n>', 'history window in days', positiveInt, DEFAULT_SINCE_DAYS)
    .addOption(
      new Option(
        '--redaction <mode>',
        'safe applies redactionRules and the secret scanner; raw keeps every value',
      )
        .argParser(oneOf(['safe', 'raw'] as const))
        .default('safe'),
    )
    .option('--statement-timeout <ms>', 'statement_timeout for every export query (0 = none)', nonNegativeInt)
    .option('--allow-findings', 'record secret-scanner findings in the capsule instead of failing')
    .option('--allow-empty', 'write the capsule even when no declared table has a row for the subject')
    .option('--dry-run-sql', 'print every statement with its parameters; do not connect')
    .option('--explain', 'run EXPLAIN for every statement instead of exporting')
    .option('--profile', 'print phase timings to stderr')
    .option('--json', 'print a machine-readable result')
    .option(
      '--encrypt-to <recipient>',
      'encrypt the capsule with age to this recipient (age1…, from `replay-env keygen`) or to every recipient in this file; repeat for more (see docs/encryption.md)',
      collectValues,
    )
    .option(
      '--encrypt',
      `encrypt the capsule with age and the passphrase in ${CAPSULE_KEY_ENV} (scrypt; see docs/encryption.md)`,
    )
    .option('--no-schema', "do not record the tables' DDL (the capsule's schema section)")
    .option(
      '--no-closure',
      'do not add the parent rows the exported rows reference (referential closure; also postgres.closure.enabled)',
    )
    .addHelpText(
      'after',
      '\nExit codes: 0 exported, 1 the export failed (database error, secret-scanner findings), 2 bad input.',
    )
    .action((opts: ExportCliOptions) => exportPostgres(opts, io));
};

/** The command: dry run, EXPLAIN, or the export itself, then its summary. */
async function exportPostgres(opts: ExportCliOptions, io: CliIO): Promise<void> {
  const loaded = loadAppManifest(opts.app, io.cwd);
  const { manifest } = loaded;
  await assertManifestSingleStatements(manifest, loaded.path);
  const subject = parseSubject(manifest, opts.subject ?? []);
  const sinceDays = opts.sinceDays;
  // The encryption key is read and checked before anything runs or connects (bad key → exit 2).
  const encryptKey = encryptionKeyFor(opts, io);

  if (opts.dryRunSql) {
    io.stdout(formatDryRunSql(manifest, buildExportSql({ manifest, subject, sinceDays })));
    return;
  }

  const envName = prodUrlEnv(manifest);
  const databaseUrl = opts.dbUrl ?? io.env[envName];
  if (!databaseUrl) {
    throw new InputError(
      `no source database: pass --db-url or set ${envName} (the manifest's postgres.prodDatabaseUrlEnv${manifest.postgres.prodDatabaseUrlEnv ? '' : ', default'})`,
      { field: '--db-url' },
    );
  }
  const statementTimeoutMs = opts.statementTimeout ?? manifest.postgres.statementTimeoutMs;

  if (opts.explain) {
    const plans = await explainExport({ manifest, subject, sinceDays, databaseUrl, statementTimeoutMs });
    if (opts.json) printJson(io, plans);
    else for (const p of plans) io.stdout(`-- ${p.label}\n${p.plan}\n\n`);
    return;
  }

  if (!opts.out) throw new InputError('--out <file> is required (the capsule to write)');
  checkOutputTarget(resolve(io.cwd, opts.out), '--out', [
    { label: 'manifest', path: loaded.path },
    // A recipients file given to --encrypt-to (age1… values are not files).
    ...(opts.encryptTo ?? [])
      .filter((v) => !v.startsWith('age1'))
      .map((v) => ({ label: 'recipients file', path: resolve(io.cwd, v) })),
  ]);
  const progress = progressPrinter(io);
  // Zero-setup (postgres/export/zero-setup.ts): referential closure rows and the schema section.
  const zeroSetup = zeroSetupHooks(manifest, {
    schema: opts.schema,
    ...(opts.closure === false ? { closure: false } : {}),
  });
  const result = await exportCapsule({
    ...(zeroSetup.extraRows ? { extraRows: zeroSetup.extraRows } : {}),
    extraSections: zeroSetup.extraSections,
    manifest,
    subject,
    databaseUrl,
    databaseUrlEnv: opts.dbUrl ? undefined : envName,
    out: resolve(io.cwd, opts.out),
    sinceDays,
    redaction: opts.redaction,
    statementTimeoutMs,
    allowFindings: opts.allowFindings ?? false,
    allowEmpty: opts.allowEmpty ?? false,
    ...(encryptKey ? { encrypt: encryptKey } : {}),
    env: io.env,
    onProgress: progress.onProgress,
    signal: io.signal,
  });
  progress.done();
  printExportResult(io, opts, manifest, result, zeroSetup.closure(), encryptionSummary(encryptKey));
}

/** Warnings on stderr, then the summary (or --json) on stdout. */
function printExportResult(
  io: CliIO,
  opts: ExportCliOptions,
  manifest: Manifest,
  result: ExportResult,
  closure: ReturnType<ReturnType<typeof zeroSetupHooks>['closure']>,
  encrypted: ReturnType<typeof encryptionSummary>,
): void {
  if (opts.profile) io.stderr(formatProfile(result));
  const empties = emptyTableWarnings(manifest, result.counts, opts.sinceDays);
  for (const w of empties) io.stderr(`warning: ${w.message}\n`);
  if (opts.json) {
    printJson(io, {
      ...exportJson(result, closure, opts.schema),
      warnings: empties.map((w) => ({
        code: 'empty_table',
        table: w.table,
        windowed: w.windowed,
        message: w.message,
      })),
      ...(encrypted?.encryptedTo ? { encryptedTo: encrypted.encryptedTo } : {}),
    });
    return;
  }
  io.stdout(formatSummary(result, io.cwd));
  if (encrypted) io.stdout(`${encrypted.text}\n`);
  if (closure && closure.totalRows > 0)
    io.stdout(
      `referential closure: +${closure.totalRows} rows (${Object.entries(closure.tables)
        .map(([t, c]) => `${t} +${c.rows}`)
        .join(', ')}); see inspect\n`,
    );
}

/** Every subject key given once and non-empty, and no key the manifest does not declare. */
export function parseSubject(manifest: Manifest, pairs: [string, string][]): Record<string, string> {
  const keys = manifest.subjectKeys;
  const subject: Record<string, string> = {};
  const problems: string[] = [];
  for (const [k, v] of pairs) {
    if (!keys.includes(k))
      problems.push(`--subject ${k}=…: ${k} is not a subject key (subject keys: ${keys.join(', ')})`);
    else if (k in subject) problems.push(`--subject ${k}=… is given twice`);
    else subject[k] = v;
  }
  const missing = keys.filter((k) => !subject[k]);
  if (missing.length > 0) {
    const empty = missing.filter((k) => k in subject);
    problems.unshift(
      `missing subject: ${missing.map((k) => `--subject ${k}=<value>`).join(' ')}${empty.length ? ` (empty: ${empty.join(', ')})` : ''}`,
    );
  }
  if (problems.length > 0) throw new InputError(problems.join('; '), { field: '--subject' });
  return subject;
}

function progressPrinter(io: CliIO): { onProgress: (e: ExportProgress) => void; done: () => void } {
  let drawn = false;
  const clear = () => {
    if (drawn) io.stderr('\r\x1b[2K');
    drawn = false;
  };
  return {
    onProgress(e) {
      if (e.kind === 'tableStart' && io.isTTY) {
        clear();
        io.stderr(`exporting ${e.table} (${e.index + 1}/${e.total})…`);
        drawn = true;
      } else if (e.kind === 'tableRows' && io.isTTY) {
        clear();
        io.stderr(`exporting ${e.table}… ${e.rows.toLocaleString('en-US')} rows`);
        drawn = true;
      } else if (e.kind === 'tableEnd') {
        clear();
        if (!io.isTTY) io.stderr(`exported ${e.table}: ${e.rows} rows in ${Math.round(e.ms)} ms\n`);
      }
    },
    done: clear,
  };
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

function rate(rows: number, ms: number): string {
  return ms > 0 ? `${Math.round((rows / ms) * 1000).toLocaleString('en-US')} rows/s` : '-';
}

export function formatProfile(r: ExportResult): string {
  const t = r.timings;
  const lines = [
    'profile:',
    `  connect      ${t.connectMs.toFixed(1)} ms`,
    `  snapshot     ${t.snapshotMs.toFixed(1)} ms`,
    `  graph        ${t.graphMs.toFixed(1)} ms (${r.graph.length} subjects)`,
    ...t.tables.map(
      (x) => `  table ${x.name.padEnd(24)} ${x.ms.toFixed(1)} ms, ${x.rows} rows, ${rate(x.rows, x.ms)}`,
    ),
    `  redaction    ${t.redactionMs.toFixed(1)} ms (parse, redact, scan, serialise; inside the table times)`,
    `  write        ${t.writeMs.toFixed(1)} ms (waiting for disk/gzip, close, rename)`,
    ...(t.extrasMs > 0 ? [`  extras       ${t.extrasMs.toFixed(1)} ms`] : []),
    `  total        ${t.totalMs.toFixed(1)} ms`,
  ];
  return `${lines.join('\n')}\n`;
}

export function formatSummary(r: ExportResult, cwd: string): string {
  const rel = relative(cwd, r.path);
  const shown = rel && !rel.startsWith('..') ? rel : r.path;
  const names = Object.keys(r.counts);
  const width = Math.max(5, ...names.map((n) => n.length));
  const total = Object.values(r.counts).reduce((a, b) => a + b, 0);
  const lines = [
    `wrote ${shown}`,
    `  size    ${r.bytes} bytes (${formatBytes(r.bytes)})${r.gzip ? ', gzip' : ''}${r.encrypted ? ', encrypted' : ''}`,
    `  sha256  ${r.sha256}`,
    '',
    `app: ${r.app}`,
    `redaction: ${r.redaction}`,
    `exported at: ${r.exportedAt}`,
    `window: ${r.window.sinceDays} days (since ${r.window.sinceAt})`,
    `subject: ${Object.entries(r.subject)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ')}`,
    `graph subjects: ${r.graph.length}`,
    'tables:',
    ...[...names].sort().map((n) => `  ${n.padEnd(width)}  ${r.counts[n]}`),
    `  ${'total'.padEnd(width)}  ${total}`,
  ];
  if (r.findings.length > 0) {
    lines.push(`findings (recorded with --allow-findings): ${r.findings.length}`);
    for (const f of r.findings.slice(0, 20)) lines.push(`  ${f.table}[${f.row}] ${f.path}: ${f.kind}`);
  }
  return `${lines.join('\n')}\n`;
}
