/**
 * `doctor`: is this manifest ready, and does it fit this database? Offline checks need only the
 * manifest; with a database URL the target-safety rule runs first and, when it allows the
 * target, the live checks (postgres/doctor/checks.ts). The result is data; the CLI prints it.
 */
import { z } from 'zod';
import type { LoadedManifest } from '../../manifest/load.js';
import { ADAPTER, probeName } from '../../manifest/schema.js';
import { VERSION } from '../../version.js';
import { describePgError } from '../connect.js';
import { classifyDatabaseUrl, displayUrl } from '../target-safety.js';

const CHECK_STATUSES = ['pass', 'warn', 'fail'] as const;
export type CheckStatus = (typeof CHECK_STATUSES)[number];

const doctorCheckSchema = z.object({
  /** Stable id of the kind of check, e.g. `manifest`, `target-safety`, `column`. */
  id: z.string(),
  status: z.enum(CHECK_STATUSES),
  message: z.string(),
  /** Set when --strict turned this warning into a failure. */
  strict: z.boolean().optional(),
  details: z.unknown().optional(),
});
export type DoctorCheck = z.infer<typeof doctorCheckSchema>;

export const doctorReportSchema = z.object({
  tool: z.literal('replay-env'),
  version: z.string(),
  command: z.literal('doctor'),
  app: z.string(),
  manifest: z.string(),
  strict: z.boolean(),
  /** The database checked, with the password hidden; null when no URL was given. */
  database: z
    .object({
      url: z.string(),
      /** Where the URL came from: `--db-url` or the env var name. */
      source: z.string(),
      target: z.enum(['local', 'remote', 'production', 'invalid']),
      /** Whether the live checks ran (they do not after a failed safety or connection check). */
      checked: z.boolean(),
    })
    .nullable(),
  checks: z.array(doctorCheckSchema),
  /** Things worth knowing that are not checks (e.g. why live checks were skipped). */
  notes: z.array(z.string()),
  summary: z.object({
    pass: z.number().int().nonnegative(),
    warn: z.number().int().nonnegative(),
    fail: z.number().int().nonnegative(),
  }),
  /** True when nothing failed (with --strict: and nothing warned). */
  ok: z.boolean(),
});
export type DoctorReport = z.infer<typeof doctorReportSchema>;

export const check = (id: string, status: CheckStatus, message: string, details?: unknown): DoctorCheck =>
  details === undefined ? { id, status, message } : { id, status, message, details };

/** Checks that need only the manifest. */
export function offlineChecks(loaded: LoadedManifest, displayPath: string): DoctorCheck[] {
  const m = loaded.manifest;
  const out: DoctorCheck[] = [];
  out.push(
    check('manifest', 'pass', `manifest ${displayPath} is valid (app ${m.appId}, adapter ${ADAPTER})`),
  );
  out.push(
    check(
      'subject-keys',
      'pass',
      `subject keys: ${m.subjectKeys.join(', ')}${
        m.localSubject
          ? ` (local subject ${Object.entries(m.localSubject)
              .map(([k, v]) => `${k}=${v}`)
              .join(', ')})`
          : ''
      }`,
    ),
  );
  const tables = m.postgres.tables;
  out.push(
    tables.length === 0
      ? check('tables', 'warn', 'no tables declared: an export would hold only the graph')
      : check(
          'tables',
          'pass',
          `${tables.length} table${tables.length === 1 ? '' : 's'} declared, ${m.postgres.graphEdges.length} graph edge${m.postgres.graphEdges.length === 1 ? '' : 's'}`,
        ),
  );
  const noDelete = tables.filter((t) => !t.deletePredicate).map((t) => t.name);
  if (noDelete.length > 0) {
    out.push(
      check(
        'delete-predicate',
        'warn',
        `no deletePredicate on ${noDelete.join(', ')}: materialize needs one to clear earlier rows`,
        { tables: noDelete },
      ),
    );
  }
  out.push(
    m.redactionRules.length === 0
      ? check(
          'redaction',
          'warn',
          'no redaction rules: a "safe" capsule would hold every value as in production',
        )
      : check(
          'redaction',
          'pass',
          `${m.redactionRules.length} redaction rule${m.redactionRules.length === 1 ? '' : 's'}`,
        ),
  );
  const probes = m.probes.map((p, i) => `${probeName(p, i)} (${p.kind})`);
  out.push(
    m.commands.length === 0 && m.probes.length === 0
      ? check('run-loop', 'warn', 'no commands and no probes: `run` would record an empty trace')
      : check(
          'run-loop',
          'pass',
          `run loop: ${m.commands.length} command${m.commands.length === 1 ? '' : 's'}, ${m.probes.length} probe${m.probes.length === 1 ? '' : 's'}${probes.length ? ` (${probes.join(', ')})` : ''}`,
        ),
  );
  for (const key of loaded.unknownKeys) {
    out.push(
      check('unknown-key', 'warn', `unknown key ${key} (ignored; a typo, or a field of another version?)`, {
        path: key,
      }),
    );
  }
  return out;
}

/** The target-safety rule (postgres/target-safety.ts) as a check. */
export function targetSafetyCheck(url: string, allowRemote: boolean): DoctorCheck {
  const verdict = classifyDatabaseUrl(url);
  const shown = displayUrl(url);
  const details = { target: verdict.kind, host: verdict.host, reason: verdict.reason };
  switch (verdict.kind) {
    case 'local':
      return check('target-safety', 'pass', `target ${shown} is local (${verdict.reason})`, details);
    case 'remote':
      return allowRemote
        ? check('target-safety', 'pass', `target ${shown} is remote, allowed by --allow-remote`, details)
        : check(
            'target-safety',
            'fail',
            `target ${shown} is a remote host (${verdict.host}); pass --allow-remote if it is a throwaway or staging database`,
            details,
          );
    case 'production':
      return check(
        'target-safety',
        'fail',
        `refusing production-looking target ${shown}: ${verdict.reason}. To check the manifest against production's schema, copy the schema alone into a local database and point doctor there: \`pg_dump --schema-only "$PROD_URL" | psql postgres://localhost/replay_check\`, then \`replay-env doctor --app … --db-url postgres://localhost/replay_check\``,
        details,
      );
    default:
      return check('target-safety', 'fail', `target URL is not usable: ${verdict.reason}`, details);
  }
}

export interface DoctorInput {
  loaded: LoadedManifest;
  /** The manifest path as the user wrote it (for messages). */
  displayPath: string;
  /** Database to check, if any, and where it came from (`--db-url` or an env var name). */
  database?: { url: string; source: string };
  /** Shown when there is no database, e.g. which env var would have named one. */
  noDatabaseNote?: string;
  allowRemote?: boolean;
  strict?: boolean;
  /** The live checks; injected so this module stays free of a database dependency in unit use. */
  liveChecks?: (url: string, loaded: LoadedManifest) => Promise<DoctorCheck[]>;
}

export async function runDoctor(input: DoctorInput): Promise<DoctorReport> {
  const checks = offlineChecks(input.loaded, input.displayPath);
  let database: DoctorReport['database'] = null;
  if (input.database) {
    const { url, source } = input.database;
    const safety = targetSafetyCheck(url, input.allowRemote ?? false);
    checks.push(safety);
    const target = (safety.details as { target: NonNullable<DoctorReport['database']>['target'] }).target;
    database = { url: displayUrl(url), source, target, checked: false };
    if (safety.status !== 'fail' && input.liveChecks) {
      try {
        const live = await input.liveChecks(url, input.loaded);
        checks.push(...live);
        database.checked = !live.some((c) => c.id === 'connect' && c.status === 'fail');
      } catch (err) {
        checks.push(check('live', 'fail', `live checks stopped: ${describePgError(err)}`));
      }
    }
  }
  const strict = input.strict ?? false;
  const final = strict
    ? checks.map((c) => (c.status === 'warn' ? { ...c, status: 'fail' as const, strict: true } : c))
    : checks;
  const summary = { pass: 0, warn: 0, fail: 0 };
  for (const c of final) summary[c.status]++;
  return {
    tool: 'replay-env',
    version: VERSION,
    command: 'doctor',
    app: input.loaded.manifest.appId,
    manifest: input.displayPath,
    strict,
    database,
    checks: final,
    notes: database ? [] : [input.noDatabaseNote ?? 'no database given: live checks skipped'],
    summary,
    ok: summary.fail === 0,
  };
}

/** The text form: one `PASS|WARN|FAIL  message` line per check, then a summary line. */
export function formatDoctorReport(report: DoctorReport): string {
  const lines = report.checks.map((c) => {
    const label = c.status.toUpperCase();
    const message = c.message.replace(/\n/g, '\n      ');
    return `${label}  ${c.strict ? '(strict) ' : ''}${message}`;
  });
  for (const note of report.notes) lines.push(`note  ${note}`);
  const { pass, warn, fail } = report.summary;
  lines.push(
    `${report.ok ? 'doctor: ok' : 'doctor: FAILED'} — ${pass} passed, ${warn} warning${warn === 1 ? '' : 's'}, ${fail} failed${report.strict ? ' (--strict: warnings count as failures)' : ''}`,
  );
  return `${lines.join('\n')}\n`;
}
