/**
 * `replay-env init`: a first manifest drafted from a database's catalog, so a new user starts from
 * something that passes `doctor` instead of a blank page. Pure: takes the catalog, returns the
 * manifest and the notes that say what to check; the CLI reads the catalog and writes the file.
 *
 * What it drafts:
 * - tables that have every subject key column: their rows whose keys are in the graph;
 * - tables with a foreign key to one of those (one hop, no subject key of their own): their rows
 *   whose parent row is in the graph;
 * - redaction rules for columns whose names look like personal data or credentials;
 * - one SQL probe that counts the subject's rows in the first subject table.
 * Graph edges (which other subjects a subject pulls in) are app knowledge: the notes ask for them.
 */
import { quoteIdentIfNeeded } from '../util/sql-names.js';
import { ADAPTER, type Manifest } from './schema.js';

interface CatalogColumn {
  name: string;
  type: string;
}
interface CatalogTable {
  name: string;
  columns: CatalogColumn[];
  primaryKey: string[];
}
interface CatalogForeignKey {
  name: string;
  table: string;
  columns: string[];
  refTable: string;
  refColumns: string[];
}
export interface DraftInput {
  appId: string;
  subjectKeys: string[];
  tables: CatalogTable[];
  foreignKeys: CatalogForeignKey[];
}
export interface Draft {
  manifest: Manifest;
  /** Tables drafted, with why each is in. */
  tables: { name: string; reason: string }[];
  /** Tables left out (no subject key, no foreign key to a subject table). */
  skipped: string[];
  redactions: { table: string; column: string; action: string }[];
  notes: string[];
}

type Redaction = Manifest['redactionRules'][number];

/** Column names that look like personal data or credentials, and what to do with them. */
const PII_RULES: { pattern: RegExp; rule: (table: string, col: string) => Redaction }[] = [
  {
    pattern: /(^|_)(password|passwd|secret|token|api_key|apikey|credentials?|private_key|otp)(_|$)/i,
    rule: (table, col) => ({ table, fields: [col], action: 'null' }),
  },
  {
    pattern: /(^|_)e?mail(_address)?$/i,
    rule: (table, col) => ({ table, fields: [col], action: 'hash', prefix: `${table}-${col}-` }),
  },
  {
    pattern: /(^|_)(phone|mobile|fax|ssn|iban|card_number|tax_id)(_|$)/i,
    rule: (table, col) => ({ table, fields: [col], action: 'mask', keep: 2 }),
  },
  {
    pattern:
      /(^|_)(first_name|last_name|full_name|display_name|surname|given_name|address\d*|street|postal_code|zip|birth_?date|dob|ip_address)$/i,
    rule: (table, col) => ({ table, fields: [col], action: 'mask', keep: 1 }),
  },
];

function alias(table: string, used: Set<string>): string {
  const base = (table.match(/[a-z]/i)?.[0] ?? 't').toLowerCase();
  let a = base;
  for (let i = 2; used.has(a) || a === 'g' || a === 't' || a === 'p'; i++) a = `${base}${i}`;
  used.add(a);
  return a;
}

function keyJoin(keys: string[], rowAlias: string): string {
  return keys
    .map((k) => `g.${quoteIdentIfNeeded(k)} = ${rowAlias}.${quoteIdentIfNeeded(k)}::text`)
    .join(' and ');
}

function orderBy(t: CatalogTable, a: string): string | undefined {
  return t.primaryKey.length > 0
    ? t.primaryKey.map((c) => `${a}.${quoteIdentIfNeeded(c)}`).join(', ')
    : undefined;
}

export function draftManifest(input: DraftInput): Draft {
  const { subjectKeys } = input;
  const used = new Set<string>();
  const byName = new Map(input.tables.map((t) => [t.name, t]));
  const direct = input.tables.filter((t) => subjectKeys.every((k) => t.columns.some((c) => c.name === k)));
  const directNames = new Set(direct.map((t) => t.name));
  const tables: Manifest['postgres']['tables'] = [];
  const why: Draft['tables'] = [];
  for (const t of direct) {
    const a = alias(t.name, used);
    tables.push({
      name: t.name,
      alias: a,
      from: `${quoteIdentIfNeeded(t.name)} ${a} join graph_keys g on ${keyJoin(subjectKeys, a)}`,
      ...(orderBy(t, a) ? { orderBy: orderBy(t, a) } : {}),
      deletePredicate: subjectKeys
        .map((k) => `t.${quoteIdentIfNeeded(k)}::text = g.${quoteIdentIfNeeded(k)}`)
        .join(' and '),
    });
    why.push({ name: t.name, reason: `has the subject key${subjectKeys.length > 1 ? 's' : ''}` });
  }
  const children = input.foreignKeys.filter(
    (fk) => !directNames.has(fk.table) && directNames.has(fk.refTable) && byName.has(fk.table),
  );
  const childSeen = new Set<string>();
  for (const fk of children) {
    if (childSeen.has(fk.table)) continue;
    childSeen.add(fk.table);
    const t = byName.get(fk.table)!;
    const a = alias(t.name, used);
    const on = fk.columns
      .map((c, i) => `p.${quoteIdentIfNeeded(fk.refColumns[i]!)} = ${a}.${quoteIdentIfNeeded(c)}`)
      .join(' and ');
    const onT = fk.columns
      .map((c, i) => `p.${quoteIdentIfNeeded(fk.refColumns[i]!)} = t.${quoteIdentIfNeeded(c)}`)
      .join(' and ');
    tables.push({
      name: t.name,
      alias: a,
      from: `${quoteIdentIfNeeded(t.name)} ${a} join ${quoteIdentIfNeeded(fk.refTable)} p on ${on} join graph_keys g on ${keyJoin(subjectKeys, 'p')}`,
      ...(orderBy(t, a) ? { orderBy: orderBy(t, a) } : {}),
      deletePredicate: `exists (select 1 from ${quoteIdentIfNeeded(fk.refTable)} p where ${onT} and ${subjectKeys.map((k) => `p.${quoteIdentIfNeeded(k)}::text = g.${quoteIdentIfNeeded(k)}`).join(' and ')})`,
    });
    why.push({ name: t.name, reason: `foreign key ${fk.name} → ${fk.refTable}` });
  }
  const drafted = new Set(tables.map((t) => t.name));
  const redactionRules: Redaction[] = [];
  const redactions: Draft['redactions'] = [];
  // Every table, not just the drafted ones: referential closure brings parent rows in from others.
  for (const t of input.tables) {
    for (const c of t.columns) {
      if (subjectKeys.includes(c.name)) continue;
      const hit = PII_RULES.find((r) => r.pattern.test(c.name));
      if (!hit) continue;
      const rule = hit.rule(t.name, c.name);
      redactionRules.push(rule);
      redactions.push({ table: t.name, column: c.name, action: rule.action ?? 'null' });
    }
  }
  const first = direct[0];
  const firstKey = subjectKeys[0]!;
  const probes: Manifest['probes'] = first
    ? [
        {
          name: `subject-${first.name}`,
          kind: 'sql',
          query: `select count(*) as rows from ${quoteIdentIfNeeded(first.name)} where ${subjectKeys.map((k) => `${quoteIdentIfNeeded(k)}::text = {{subject.${k}}}`).join(' and ')}`,
        },
      ]
    : [];
  const manifest = {
    $schema: 'https://replay-env.dev/schema/manifest.schema.json',
    appId: input.appId,
    adapter: ADAPTER,
    subjectKeys,
    postgres: {
      prodDatabaseUrlEnv: `${envPrefix(input.appId)}_PROD_DATABASE_URL`,
      replayDatabaseUrlEnv: `${envPrefix(input.appId)}_REPLAY_DATABASE_URL`,
      graphEdges: [],
      tableOrder: [],
      tables,
    },
    commands: [],
    probes,
    redactionRules,
  } as Manifest;
  const notes = [
    ...(direct.length === 0
      ? [
          `no table has the subject key column${subjectKeys.length > 1 ? 's' : ''} ${subjectKeys.join(', ')}: check --subject-key (columns are matched by exact name)`,
        ]
      : []),
    `graphEdges is empty: the capsule holds the subject alone. Add one query per relation that pulls other subjects in, returning ${subjectKeys.join(', ')} and a reason (e.g. "select x.other_${firstKey} as ${firstKey}, 'messaged'::text as reason from <table> x join params p on x.${firstKey}::text = p.${firstKey}")`,
    "add the app: commands (its server, with readyUrl) and probes (http, browser) that open the subject's pages",
    `add a "where" with (select since_at from params) to large history tables to export a window (--since-days)`,
    ...(redactions.length > 0
      ? [
          `${redactions.length} redaction rule(s) drafted from column names: review them, and add rules for free-text columns`,
        ]
      : ['no column looked like personal data by its name: add redactionRules for what is sensitive']),
    `then: replay-env doctor --app <this file> --db-url <a schema-only copy or replay database>`,
  ];
  return {
    manifest,
    tables: why,
    skipped: input.tables.map((t) => t.name).filter((n) => !drafted.has(n)),
    redactions,
    notes,
  };
}

function envPrefix(appId: string): string {
  const p = appId
    .replace(/[^A-Za-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .toUpperCase();
  return /^[A-Z_]/.test(p) ? p : `APP_${p}`;
}
