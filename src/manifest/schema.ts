/**
 * The app manifest: the single source of truth for its shape.
 *
 * Every field of the original `replay-env` v0.3 format is accepted unchanged; the fields marked
 * "extension" are ours. Unknown keys are accepted (older/newer manifests) and reported by
 * `doctor` as warnings, see unknown-keys.ts. `api` and `web` are informational and take any keys.
 */
import { z } from 'zod';
import { probePlaceholderChecks } from './probe-placeholders.js';

export const ADAPTER = 'postgres-subject-graph.v1';

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const show = (v: unknown) =>
  typeof v === 'string' ? JSON.stringify(v) : v === undefined ? 'nothing' : JSON.stringify(v);

const identifier = z
  .string({ error: (iss) => `must be a plain SQL identifier, got ${show(iss.input)}` })
  .regex(IDENTIFIER, { error: (iss) => `must be a plain SQL identifier, got ${show(iss.input)}` });

const envName = z
  .string()
  .regex(ENV_NAME, { error: (iss) => `must be an environment variable name, got ${show(iss.input)}` });

const nonEmpty = (what: string) =>
  z
    .string({ error: (iss) => `must be ${what}, got ${show(iss.input)}` })
    .min(1, { error: `must be ${what}, got an empty string` });

/** The longest timeout a manifest may ask for: one day (Node's timers overflow past ~24.8 days). */
const MAX_TIMEOUT_SECONDS = 86_400;
const seconds = z
  .number()
  .positive({ error: (iss) => `must be a positive number of seconds, got ${show(iss.input)}` })
  .max(MAX_TIMEOUT_SECONDS, {
    error: (iss) => `must be at most ${MAX_TIMEOUT_SECONDS} seconds (one day), got ${show(iss.input)}`,
  });
const stringMap = z.record(
  z.string(),
  z.string({ error: (iss) => `must be a string, got ${show(iss.input)}` }),
);

const tableSchema = z.object({
  // `__proto__` is a valid SQL name, but as a key of the capsule's per-table records (counts,
  // integrity) it would be dropped by JSON object handling, so its rows would go unchecked.
  name: identifier.refine((n) => n !== '__proto__', {
    error: 'must not be "__proto__" (the capsule could not check that table\'s rows)',
  }),
  alias: identifier.optional(),
  from: z.string().optional(),
  where: z.string().optional(),
  orderBy: z.string().optional(),
  rowSql: z.string().optional(),
  deletePredicate: z.string().optional(),
  /** extension: follow foreign keys from this table's rows to parents outside the graph (default true). */
  closure: z.boolean().optional(),
});

const closureSchema = z.object({
  /** Abort when closure would add more rows than this (default 100000). */
  maxRows: z.number().int().positive().optional(),
  /** Tables never pulled in by closure. */
  exclude: z.array(identifier).optional(),
  /** Turn closure off for the whole manifest. */
  enabled: z.boolean().optional(),
});

const postgresSchema = z.object({
  prodDatabaseUrlEnv: envName.optional(),
  replayDatabaseUrlEnv: envName.optional(),
  graphEdges: z.array(nonEmpty('an SQL snippet')).default([]),
  tableOrder: z.array(identifier).default([]),
  tables: z.array(tableSchema).default([]),
  /** extension: statement_timeout for export queries, in milliseconds (0 = none). */
  statementTimeoutMs: z.number().int().nonnegative().optional(),
  /** extension: referential closure at export. */
  closure: closureSchema.optional(),
});

const commandSchema = z.object({
  name: nonEmpty('a command name'),
  run: nonEmpty('a shell command'),
  cwd: z.string().optional(),
  background: z.boolean().optional(),
  allowFailure: z.boolean().optional(),
  timeoutSeconds: seconds.optional(),
  /** extension */
  env: stringMap.optional(),
  /** extension: background readiness, polled until it answers with a status below 500. */
  readyUrl: z
    .string()
    .url({ error: (iss) => `must be a URL, got ${show(iss.input)}` })
    .optional(),
  /** extension: background readiness, run until it exits 0. */
  readyCommand: z.string().optional(),
  /** extension: how long readiness may take (default: timeoutSeconds, else 60). */
  readyTimeoutSeconds: seconds.optional(),
});

const probeBase = {
  name: z.string().optional(),
  allowFailure: z.boolean().optional(),
  timeoutSeconds: seconds.optional(),
};

export const httpProbeSchema = z.object({
  ...probeBase,
  kind: z.literal('http'),
  url: nonEmpty('a URL'),
  expectStatus: z.number().int().min(100).max(599).optional(),
  /** extensions */
  method: z
    .string()
    .regex(/^[A-Za-z]+$/)
    .optional(),
  headers: stringMap.optional(),
  body: z.union([z.string(), z.record(z.string(), z.unknown()), z.array(z.unknown())]).optional(),
  retries: z.number().int().nonnegative().optional(),
  recordHeaders: z.array(z.string()).optional(),
});

export const commandProbeSchema = z.object({
  ...probeBase,
  kind: z.literal('command'),
  /** A shell command line; with `args`, the program to run WITHOUT a shell (args are its argv). */
  command: nonEmpty('a shell command'),
  /**
   * extension: run `command` as a program with these arguments, no shell; each entry may hold
   * subject placeholders ({{subject.KEY}}, {{capsuleSubject.KEY}}, {{localSubject.KEY}}), bound as
   * one argument each.
   */
  args: z
    .array(z.string())
    .describe(
      'Run `command` as a program with these arguments, without a shell. Entries may use {{subject.KEY}}, {{capsuleSubject.KEY}}, {{localSubject.KEY}}: each is bound inside its own argument.',
    )
    .optional(),
  cwd: z.string().optional(),
  env: stringMap.optional(),
});

export const sqlProbeSchema = z.object({
  ...probeBase,
  kind: z.literal('sql'),
  query: nonEmpty('an SQL query'),
  maxRows: z.number().int().positive().optional(),
});

export const browserProbeSchema = z.object({
  ...probeBase,
  kind: z.literal('browser'),
  url: nonEmpty('a URL'),
  waitFor: z.string().optional(),
  /** Fail when the page logs console errors (default true). */
  failOnConsoleError: z.boolean().optional(),
});

const probeSchema = z.discriminatedUnion(
  'kind',
  [httpProbeSchema, commandProbeSchema, sqlProbeSchema, browserProbeSchema],
  {
    error: (iss) =>
      iss.code === 'invalid_union' || iss.code === 'invalid_value'
        ? `must be one of "http", "command", "sql", "browser", got ${show((iss.input as { kind?: unknown })?.kind)}`
        : undefined,
  },
);

const REDACTION_ACTIONS = [
  'empty',
  'null',
  'empty_object',
  'empty_array',
  'hash',
  'hmac',
  'mask',
  'constant',
] as const;

const redactionRuleSchema = z.object({
  table: identifier.optional(),
  fields: z.array(nonEmpty('a field name')).min(1, { error: 'must name at least one field' }),
  action: z
    .enum(REDACTION_ACTIONS, {
      error: (iss) => `must be one of ${REDACTION_ACTIONS.join(', ')}, got ${show(iss.input)}`,
    })
    .optional(),
  prefix: z.string().optional(),
  recursive: z.boolean().optional(),
  /** extension (hmac): env var holding the secret key. */
  keyEnv: envName.optional(),
  /** extension (mask): keep this many trailing characters (default 4). */
  keep: z.number().int().nonnegative().optional(),
  /** extension (mask): the masking character (default "*"). */
  maskChar: z.string().length(1).optional(),
  /** extension (constant): the replacement value. */
  value: z.unknown().optional(),
});

const goldenSchema = z.object({
  /** Where golden traces live, relative to the manifest (default golden/<appId>). */
  dir: z.string().optional(),
  /** JSON paths never judged, e.g. "$.probes[*].body.items[*].updatedAt". */
  ignore: z.array(z.string()).optional(),
  /** JSON paths whose changed values only warn. */
  tolerate: z.array(z.string()).optional(),
  /** JSON paths of arrays compared without order. */
  unorderedArrays: z.array(z.string()).optional(),
  /** Allowed slowdown against the golden, as a fraction (default 0.5 = 50% slower). */
  durationTolerance: z.number().nonnegative().optional(),
});

const COLUMN_REF = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/;

/** extension: noise rules of the database-state judge (docs/database-state.md). */
const databaseStateRulesSchema = z.object({
  /** Tables not recorded nor judged (audit logs, caches), by name as in postgres.tables. */
  ignoreTables: z.array(identifier).optional(),
  /** Columns left out of the digests: `column` (every table) or `table.column`, e.g. `updated_at`. */
  ignoreColumns: z
    .array(
      z
        .string({ error: (iss) => `must be a column name or table.column, got ${show(iss.input)}` })
        .regex(COLUMN_REF, {
          error: (iss) => `must be a column name or table.column, got ${show(iss.input)}`,
        }),
    )
    .optional(),
});

const manifestBaseSchema = z.object({
  /** Editor hint: path or URL of schema/manifest.schema.json. */
  $schema: z.string().optional(),
  appId: nonEmpty('the app name'),
  adapter: z.literal(ADAPTER, { error: (iss) => `must be "${ADAPTER}", got ${show(iss.input)}` }),
  repoPath: z.string().optional(),
  subjectKeys: z.array(identifier).min(1, { error: 'must list at least one subject key' }),
  localSubject: stringMap.optional(),
  localDatabaseUrl: z.string().optional(),
  api: z.looseObject({}).optional(),
  web: z.looseObject({}).optional(),
  postgres: postgresSchema,
  commands: z.array(commandSchema).default([]),
  /**
   * Probes. The url, headers and body of http probes, the url of browser probes, the query of sql
   * probes and the args/env of command probes may use subject placeholders: {{subject.KEY}} (the
   * subject in the replay database, after any rewrite), {{capsuleSubject.KEY}} (as exported),
   * {{localSubject.KEY}} (the manifest's localSubject). They are bound safely: URL-encoded in URLs,
   * as bind parameters in SQL, as separate argv entries for commands; never in a shell line.
   */
  probes: z
    .array(probeSchema)
    .describe(
      'Probes. http url/headers/body, browser url, sql query and command args/env may use {{subject.KEY}} (the subject in the replay database, after any rewrite), {{capsuleSubject.KEY}} (as exported) and {{localSubject.KEY}}: URL-encoded in URLs, bind parameters ($1…) in SQL, separate argv entries for commands, never in a shell line.',
    )
    .default([]),
  redactionRules: z.array(redactionRuleSchema).default([]),
  /** extension: outbound hosts the replay may reach (everything else is denied and recorded). */
  egress: z.object({ allow: z.array(z.string()).default([]) }).optional(),
  /**
   * extension: how the app is run. `passEnv`: variables of the caller's environment the app's
   * commands and probes get besides the default allow-list (PATH, HOME, locale, TZ, NODE_ENV…;
   * see run/app-env-allow.ts). Nothing else passes.
   */
  run: z.object({ passEnv: z.array(envName).default([]) }).optional(),
  /** extension: env var names whose values are secrets: masked in traces (and passed to the app). */
  secrets: z.object({ env: z.array(envName).default([]) }).optional(),
  /** extension: commands that create the app's schema on an empty database (the app's migrations). */
  setup: z.array(commandSchema).optional(),
  /** extension: the app's migration command, run after the capsule is loaded (migration replay). */
  migrate: commandSchema.optional(),
  /** extension: golden traces and noise rules. */
  golden: goldenSchema.optional(),
  /** extension: path of a gate policy (default: loops/user-history-replay/gate.yaml). */
  policy: z.string().optional(),
  /** extension: what the database-state judge leaves out (ignored tables and columns). */
  databaseState: databaseStateRulesSchema.optional(),
});

export const manifestSchema = manifestBaseSchema.superRefine((m, ctx) =>
  crossFieldChecks(m, (issue) => ctx.addIssue({ code: 'custom', ...issue })),
);

interface LooseManifest {
  subjectKeys?: unknown;
  localSubject?: unknown;
  probes?: unknown;
  postgres?: { tables?: unknown; tableOrder?: unknown };
  redactionRules?: unknown;
  commands?: unknown;
  databaseState?: { ignoreTables?: unknown; ignoreColumns?: unknown };
}

/**
 * Checks that span fields. Written defensively so they can also run on input that failed the
 * field-level schema: every problem is reported at once, not one round at a time.
 */
export function crossFieldChecks(
  input: unknown,
  add: (issue: { path: PropertyKey[]; message: string }) => void,
): void {
  const m = (input ?? {}) as LooseManifest;
  const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
  const obj = (v: unknown): Record<string, unknown> =>
    v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  const seen = new Map<string, number>();
  arr(m.postgres?.tables).forEach((t, i) => {
    const name = obj(t).name;
    if (typeof name !== 'string') return;
    const prev = seen.get(name);
    if (prev !== undefined) {
      add({
        path: ['postgres', 'tables', i, 'name'],
        message: `duplicate table ${JSON.stringify(name)} (also postgres.tables[${prev}])`,
      });
    } else seen.set(name, i);
  });
  const orderSeen = new Set<unknown>();
  arr(m.postgres?.tableOrder).forEach((name, i) => {
    if (typeof name === 'string' && !seen.has(name)) {
      add({
        path: ['postgres', 'tableOrder', i],
        message: `names ${JSON.stringify(name)}, which is not a declared table (declared: ${[...seen.keys()].join(', ') || 'none'})`,
      });
    }
    if (orderSeen.has(name))
      add({ path: ['postgres', 'tableOrder', i], message: `lists ${JSON.stringify(name)} twice` });
    orderSeen.add(name);
  });
  const subjectKeys = arr(m.subjectKeys).filter((k): k is string => typeof k === 'string');
  const keys = new Set(subjectKeys);
  if (keys.size !== subjectKeys.length) add({ path: ['subjectKeys'], message: 'must not repeat a key' });
  if (subjectKeys.length > 0) {
    for (const k of Object.keys(obj(m.localSubject))) {
      if (!keys.has(k))
        add({
          path: ['localSubject', k],
          message: `is not a subject key (subject keys: ${subjectKeys.join(', ')})`,
        });
    }
  }
  arr(m.redactionRules).forEach((r, i) => {
    const rule = obj(r);
    if (rule.action === 'hmac' && !rule.keyEnv) {
      add({
        path: ['redactionRules', i, 'keyEnv'],
        message: 'is required for action "hmac" (the env var holding the key)',
      });
    }
    if (rule.action === 'constant' && rule.value === undefined) {
      add({ path: ['redactionRules', i, 'value'], message: 'is required for action "constant"' });
    }
  });
  probePlaceholderChecks(
    m.probes,
    {
      subjectKeys,
      localSubject: m.localSubject ? (obj(m.localSubject) as Record<string, string>) : undefined,
    },
    add,
  );
  databaseStateChecks(m, seen, add);
  const names = new Set<unknown>();
  arr(m.commands).forEach((c, i) => {
    const cmd = obj(c);
    if (names.has(cmd.name))
      add({ path: ['commands', i, 'name'], message: `duplicate command name ${JSON.stringify(cmd.name)}` });
    names.add(cmd.name);
    if (!cmd.background && (cmd.readyUrl || cmd.readyCommand)) {
      add({ path: ['commands', i], message: 'readyUrl/readyCommand only apply to background commands' });
    }
  });
}

/** databaseState's tables must be declared tables (a typo would silently judge the table). */
function databaseStateChecks(
  m: LooseManifest,
  declared: Map<string, number>,
  add: (issue: { path: PropertyKey[]; message: string }) => void,
): void {
  const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
  const known = `declared: ${[...declared.keys()].join(', ') || 'none'}`;
  list(m.databaseState?.ignoreTables).forEach((t, i) => {
    if (typeof t === 'string' && !declared.has(t))
      add({
        path: ['databaseState', 'ignoreTables', i],
        message: `names ${JSON.stringify(t)}, which is not a declared table (${known})`,
      });
  });
  list(m.databaseState?.ignoreColumns).forEach((c, i) => {
    if (typeof c !== 'string' || !c.includes('.')) return;
    const table = c.slice(0, c.indexOf('.'));
    if (!declared.has(table))
      add({
        path: ['databaseState', 'ignoreColumns', i],
        message: `names table ${JSON.stringify(table)}, which is not a declared table (${known})`,
      });
  });
}

export type Manifest = z.infer<typeof manifestSchema>;
export type ManifestTable = z.infer<typeof tableSchema>;
export type ManifestCommand = z.infer<typeof commandSchema>;
export type ManifestProbe = z.infer<typeof probeSchema>;
export type RedactionRule = z.infer<typeof redactionRuleSchema>;

const DEFAULT_PROD_URL_ENV = 'APP_PROD_DATABASE_URL';
const DEFAULT_REPLAY_URL_ENV = 'APP_REPLAY_DATABASE_URL';

export function prodUrlEnv(m: Manifest): string {
  return m.postgres.prodDatabaseUrlEnv ?? DEFAULT_PROD_URL_ENV;
}
export function replayUrlEnv(m: Manifest): string {
  return m.postgres.replayDatabaseUrlEnv ?? DEFAULT_REPLAY_URL_ENV;
}
export function tableAlias(t: ManifestTable): string {
  return t.alias ?? 't';
}
/** Probe name as shown in traces: its `name`, else kind + index. */
export function probeName(p: ManifestProbe, index: number): string {
  return p.name ?? `${p.kind}-${index + 1}`;
}
