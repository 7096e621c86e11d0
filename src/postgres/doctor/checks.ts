/**
 * doctor's live checks against a database: declared tables exist, every `alias.column` the
 * manifest's SQL uses exists, the load order loads parents first, and which foreign keys leave
 * the declared tables. Connection problems become a failed check, never an exception.
 */
import type pg from 'pg';
import type { LoadedManifest } from '../../manifest/load.js';
import { type Manifest, tableAlias } from '../../manifest/schema.js';
import { aliasDeclarations, columnRefs } from '../../manifest/sql-refs.js';
import { quoteIdent } from '../../util/sql-names.js';
import { type ForeignKey, readColumns, readForeignKeys } from '../catalog.js';
import { connect, describePgError } from '../connect.js';
import { buildExportSql } from '../export/sql.js';
import { closureAncestors, planLoad } from '../materialize/load-plan.js';
import { planLoadOrder } from '../schema/load-order.js';
import { extendedQuery, multiStatementProblems } from '../single-statement.js';
import { displayUrl } from '../target-safety.js';
import { check, type DoctorCheck } from './report.js';

export async function liveChecks(url: string, loaded: LoadedManifest): Promise<DoctorCheck[]> {
  let client: pg.Client;
  try {
    client = await connect(url, { role: 'replay target', applicationName: 'replay-env doctor' });
  } catch (err) {
    return [check('connect', 'fail', (err as Error).message)];
  }
  try {
    const out: DoctorCheck[] = [];
    const { rows } = await client.query<{ version: string; db: string }>(
      `select current_setting('server_version') as version, current_database() as db`,
    );
    out.push(
      check(
        'connect',
        'pass',
        `connected to ${displayUrl(url)} (PostgreSQL ${rows[0]?.version}, database ${rows[0]?.db})`,
      ),
    );
    out.push(...(await catalogChecks(client, loaded.manifest)));
    return out;
  } finally {
    await client.end().catch(() => {});
  }
}

/** A column source an alias can stand for. */
interface Source {
  label: string;
  columns: Set<string> | null; // null: unknown relation, not checked
  /** Extra hint when a column is missing. */
  hint?: string;
}

async function catalogChecks(client: pg.Client, m: Manifest): Promise<DoctorCheck[]> {
  const out: DoctorCheck[] = [];
  const declared = m.postgres.tables.map((t) => t.name);
  // Columns of every relation the snippets might name (declared tables and any alias target).
  const mentioned = new Set<string>(declared);
  const snippets = [
    ...m.postgres.graphEdges,
    ...m.postgres.tables.flatMap((t) => [t.from, t.where, t.orderBy, t.rowSql, t.deletePredicate]),
  ];
  for (const s of snippets)
    if (s) for (const rel of aliasDeclarations(`from ${s}`).values()) if (rel) mentioned.add(rel);
  const catalog = await readColumns(client, [...mentioned]);
  const columnsOf = (rel: string) => {
    const cols = catalog.get(rel);
    return cols ? new Set(cols.map((c) => c.name)) : null;
  };

  // 1. Declared tables exist.
  const missing = declared.filter((t) => !catalog.has(t));
  for (const t of missing)
    out.push(
      check('table', 'fail', `table ${t} (declared in postgres.tables) does not exist in the database`, {
        table: t,
      }),
    );
  if (missing.length === 0 && declared.length > 0)
    out.push(check('table', 'pass', `all ${declared.length} declared tables exist: ${declared.join(', ')}`));

  // 2. Every alias.column the SQL uses exists.
  const cat: CatalogView = { has: (rel) => catalog.has(rel), columnsOf };
  out.push(...columnReferenceChecks(m, cat, missing.length));
  // 3. Subject key columns: the tables that name them directly.
  out.push(...subjectColumnChecks(m, cat, missing.length));

  // 4. Load order and foreign keys.
  const fks = await readForeignKeys(client);
  out.push(...loadOrderChecks(m, fks));

  // 5. The statements export and materialize will run are accepted by the planner.
  if (missing.length === 0) out.push(...(await compileChecks(client, m)));
  return out;
}

/** The target's relations and their columns, as the column checks see them. */
interface CatalogView {
  has(rel: string): boolean;
  /** null: the relation does not exist. */
  columnsOf(rel: string): Set<string> | null;
}

/** Every `alias.column` the manifest's SQL uses names an existing column. */
function columnReferenceChecks(m: Manifest, catalog: CatalogView, missingTables: number): DoctorCheck[] {
  const { columnsOf } = catalog;
  const keys = new Set(m.subjectKeys);
  const graphSource: Source = {
    label: 'graph_keys',
    columns: keys,
    hint: `graph rows have only the subject key columns (${m.subjectKeys.join(', ')})`,
  };
  const paramsSource: Source = {
    label: 'params',
    columns: new Set([...m.subjectKeys, 'since_at']),
    hint: `params has the subject keys and since_at (${[...m.subjectKeys, 'since_at'].join(', ')})`,
  };
  const relationSource = (rel: string): Source => {
    if (rel === 'graph_keys' || rel === 'all_graph_keys' || rel === 'graph') return graphSource;
    if (rel === 'params') return paramsSource;
    return { label: rel, columns: columnsOf(rel) };
  };
  const problems: DoctorCheck[] = [];
  let checked = 0;
  const checkSnippet = (where: string, sql: string, fixed: Record<string, Source>) => {
    const scope = new Map<string, Source | null>();
    for (const [alias, rel] of aliasDeclarations(`from ${sql}`))
      scope.set(alias, rel ? relationSource(rel) : null);
    for (const [alias, src] of Object.entries(fixed)) scope.set(alias, src);
    for (const ref of columnRefs(sql)) {
      let src = scope.get(ref.qualifier);
      // A bare table name used as qualifier (`from rental where rental.x`).
      if (src === undefined && catalog.has(ref.qualifier)) src = relationSource(ref.qualifier);
      if (!src?.columns) continue;
      checked++;
      if (src.columns.has(ref.column)) continue;
      const what =
        src === graphSource || src === paramsSource
          ? `${ref.qualifier}.${ref.column}`
          : `${src.label}.${ref.column}`;
      problems.push(
        check(
          'column',
          'fail',
          `${where}: ${ref.text} — column ${what} does not exist${src.hint ? ` (${src.hint})` : ` (table ${src.label} has: ${[...src.columns].join(', ')})`}`,
          { path: where, reference: ref.text, table: src.label, column: ref.column },
        ),
      );
    }
  };
  m.postgres.graphEdges.forEach((sql, i) => {
    checkSnippet(`postgres.graphEdges[${i}]`, sql, {});
  });
  m.postgres.tables.forEach((t, i) => {
    if (!catalog.has(t.name)) return;
    const own: Source = { label: t.name, columns: columnsOf(t.name) };
    const alias = tableAlias(t);
    const at = `postgres.tables[${i}] (${t.name})`;
    for (const field of ['from', 'where', 'orderBy', 'rowSql'] as const) {
      const sql = field === 'from' ? (t.from ?? `${t.name} ${alias}`) : t[field];
      if (!sql) continue;
      // Aliases declared in `from` are visible in where/orderBy/rowSql too.
      const context = field === 'from' ? sql : `${t.from ?? `${t.name} ${alias}`} ${sql}`;
      const scope: Record<string, Source> = { [alias]: own };
      for (const [a, rel] of aliasDeclarations(`from ${context}`))
        if (rel && a !== alias) scope[a] = relationSource(rel);
      checkSnippet(`${at}.${field}`, sql, scope);
    }
    if (t.deletePredicate)
      checkSnippet(`${at}.deletePredicate`, t.deletePredicate, { t: own, g: graphSource });
  });
  if (problems.length > 0) return problems;
  return [
    check(
      'column',
      'pass',
      missingTables === 0
        ? `all ${checked} column references in the manifest's SQL exist`
        : `the ${checked} column references to existing tables exist`,
    ),
  ];
}

/** Which declared tables name a subject key column directly (the others reach it by predicate). */
function subjectColumnChecks(m: Manifest, catalog: CatalogView, missingTables: number): DoctorCheck[] {
  const keyless = m.postgres.tables.filter((t) => {
    const cols = catalog.columnsOf(t.name);
    return cols && !m.subjectKeys.some((k) => cols.has(k));
  });
  if (keyless.length > 0)
    return [
      check(
        'subject-columns',
        'pass',
        `subject key columns (${m.subjectKeys.join(', ')}) exist where used; tables without them reach the subject through their own predicates: ${keyless.map((t) => t.name).join(', ')}`,
      ),
    ];
  if (m.postgres.tables.length > 0 && missingTables === 0)
    return [
      check(
        'subject-columns',
        'pass',
        `every declared table has a subject key column (${m.subjectKeys.join(', ')})`,
      ),
    ];
  return [];
}

/**
 * EXPLAIN (never run) every graph edge, every table's export query and every deletePredicate,
 * inside a transaction that is rolled back. Catches what the column scan cannot: unknown
 * functions, type mismatches, syntax errors.
 */
async function compileChecks(client: pg.Client, m: Manifest): Promise<DoctorCheck[]> {
  const subject = Object.fromEntries(m.subjectKeys.map((k) => [k, m.localSubject?.[k] ?? '0']));
  const sql = buildExportSql({ manifest: m, subject, sinceDays: 1 });
  const graphRow = m.subjectKeys.map((k) => `null::text as ${quoteIdent(k.toLowerCase())}`).join(', ');
  const statements = [
    ...sql.edges.map((e) => ({ entry: e.entry, what: 'graph edge', text: e.text })),
    ...sql.tables.map((t) => ({ entry: t.entry, what: 'export query', text: t.text })),
    ...m.postgres.tables.flatMap((t, i) =>
      t.deletePredicate
        ? [
            {
              entry: `postgres.tables[${i}] (${t.name}).deletePredicate`,
              what: 'delete statement',
              text: `delete from ${quoteIdent(t.name)} t using (select ${graphRow}) g where ${t.deletePredicate}`,
            },
          ]
        : [],
    ),
  ];
  const out: DoctorCheck[] = [];
  // A snippet that stacks statements ("true; commit; drop table …") is reported, never sent.
  const stacked = await multiStatementProblems(statements);
  for (const p of stacked) out.push(check('sql', 'fail', `${p.entry}: ${p.problem}`, { path: p.entry }));
  const single = statements.filter((s) => !stacked.some((p) => p.entry === s.entry));
  await client.query('begin');
  try {
    await client.query(sql.params.text, sql.params.values);
    for (const s of single) {
      await client.query('savepoint doctor_compile');
      try {
        // Extended protocol: the server itself refuses more than one statement.
        await client.query(extendedQuery(`explain ${s.text}`));
      } catch (err) {
        out.push(
          check('sql', 'fail', `${s.entry}: the ${s.what} does not compile: ${describePgError(err)}`, {
            path: s.entry,
          }),
        );
      }
      await client.query('rollback to savepoint doctor_compile');
    }
  } finally {
    await client.query('rollback').catch(() => {});
  }
  if (out.length === 0)
    out.push(
      check(
        'sql',
        'pass',
        `all ${statements.length} export and delete statements compile (EXPLAIN only, nothing was run)`,
      ),
    );
  return out;
}

export function loadOrderChecks(m: Manifest, fks: ForeignKey[]): DoctorCheck[] {
  // The plan materialize uses (materialize/load-plan.ts): the declared tables and the undeclared
  // parents referential closure adds, parents first.
  const plan = planLoad({ manifest: m, closureOnly: closureAncestors(m, fks), foreignKeys: fks });
  return [
    ...orderChecks(m, fks, plan),
    ...cycleChecks(plan),
    ...undeclaredChildChecks(m, fks),
    ...undeclaredParentChecks(m, fks),
  ];
}

type LoadPlan = ReturnType<typeof planLoad>;

/** postgres.tableOrder (or, without one, declaration order) against the foreign keys. */
function orderChecks(m: Manifest, fks: ForeignKey[], plan: LoadPlan): DoctorCheck[] {
  const out: DoctorCheck[] = [];
  const declared = m.postgres.tables.map((t) => t.name);
  const declaredSet = new Set(declared);
  const tableOrder = m.postgres.tableOrder;
  const full =
    plan.closureOnly.length > 0
      ? ` (with the ${plan.closureOnly.length} undeclared parent tables referential closure adds: ${plan.tables.join(', ')})`
      : '';
  const declaredOrder = plan.tables.filter((t) => declaredSet.has(t));
  if (tableOrder.length > 0) {
    for (const v of plan.violations)
      out.push(
        check(
          'load-order',
          'fail',
          `postgres.tableOrder loads ${v.child} before ${v.parent}, which it references (${v.constraint})`,
          v,
        ),
      );
    if (plan.violations.length > 0)
      out.push(
        check('load-order', 'fail', `an order that works: "tableOrder": ${JSON.stringify(declaredOrder)}`, {
          order: declaredOrder,
        }),
      );
    if (plan.omitted.length > 0)
      out.push(
        check(
          'load-order',
          'warn',
          `postgres.tableOrder leaves out ${plan.omitted.join(', ')}: replay-env loads ${plan.omitted.length === 1 ? 'it' : 'them'} right after ${plan.omitted.length === 1 ? 'its' : 'their'} parents (the original tool skipped them); full order: ${declaredOrder.join(', ')}`,
          { omitted: plan.omitted, order: declaredOrder },
        ),
      );
    if (plan.violations.length === 0)
      out.push(
        check('load-order', 'pass', `load order loads parents first: ${declaredOrder.join(', ')}${full}`, {
          order: plan.tables,
        }),
      );
  } else {
    const asDeclared = planLoadOrder({ declared, tableOrder: declared, foreignKeys: fks });
    if (asDeclared.violations.length > 0)
      out.push(
        check(
          'load-order',
          'warn',
          `no postgres.tableOrder, and declaration order loads ${asDeclared.violations
            .map((v) => `${v.child} before ${v.parent} (${v.constraint})`)
            .join(
              ', ',
            )}; replay-env orders by foreign keys, the original tool would not: add "tableOrder": ${JSON.stringify(declaredOrder)}`,
          { violations: asDeclared.violations, order: declaredOrder },
        ),
      );
    else
      out.push(
        check('load-order', 'pass', `load order (by foreign keys): ${declaredOrder.join(', ')}${full}`, {
          order: plan.tables,
        }),
      );
  }
  return out;
}

/** Tables that reference each other in a cycle, and whether materialize can defer their keys. */
function cycleChecks(plan: LoadPlan): DoctorCheck[] {
  const out: DoctorCheck[] = [];
  for (const cycle of plan.cycles) {
    const inCycle = new Set(cycle);
    const hard = plan.foreignKeys.filter(
      (fk) => inCycle.has(fk.table) && inCycle.has(fk.refTable) && fk.table !== fk.refTable && !fk.deferrable,
    );
    out.push(
      check(
        'fk-cycle',
        'warn',
        `tables ${cycle.join(', ')} reference each other in a cycle: ${
          hard.length === 0
            ? 'their foreign keys are DEFERRABLE, checked at the end of the load'
            : `materialize checks ${hard.map((fk) => fk.name).join(', ')} at the end of the load, which needs the tables' owner (else make them DEFERRABLE, or use --disable-triggers)`
        }`,
        { tables: cycle, notDeferrable: hard.map((fk) => fk.name) },
      ),
    );
  }
  return out;
}

/** Foreign keys leaving the declared tables: who provides the referenced rows. */
function undeclaredParentChecks(m: Manifest, fks: ForeignKey[]): DoctorCheck[] {
  const out: DoctorCheck[] = [];
  const declared = m.postgres.tables.map((t) => t.name);
  const declaredSet = new Set(declared);
  const closureOn = m.postgres.closure?.enabled !== false;
  const outward = new Map<string, ForeignKey[]>();
  for (const fk of fks) {
    if (!declaredSet.has(fk.table) || declaredSet.has(fk.refTable)) continue;
    const list = outward.get(fk.table) ?? [];
    list.push(fk);
    outward.set(fk.table, list);
  }
  for (const table of declared) {
    const list = outward.get(table);
    if (!list) continue;
    const explicitOff = m.postgres.tables.find((t) => t.name === table)?.closure === false;
    const excluded = list
      .filter((fk) => m.postgres.closure?.exclude?.includes(fk.refTable))
      .map((fk) => fk.refTable);
    const how = !closureOn
      ? 'closure is off (postgres.closure.enabled), so the replay database must already hold the referenced rows'
      : explicitOff
        ? `closure is off for ${table}, so the replay database must already hold the referenced rows`
        : excluded.length > 0
          ? `export closure copies the referenced rows, except from ${excluded.join(', ')} (postgres.closure.exclude), which the replay database must already hold`
          : 'export closure copies the referenced rows';
    out.push(
      check(
        'fk-undeclared',
        'warn',
        `${table} references undeclared ${list.length === 1 ? 'table' : 'tables'} ${list
          .map((fk) => `${fk.refTable} (${fk.name})`)
          .join(', ')}: ${how}`,
        { table, references: list.map((fk) => ({ constraint: fk.name, refTable: fk.refTable })) },
      ),
    );
  }
  return out;
}

/**
 * Undeclared tables whose foreign keys point at a declared table: their rows that reference the
 * graph's rows block materialize's delete (unless the reference is ON DELETE CASCADE/SET NULL…).
 */
function undeclaredChildChecks(m: Manifest, fks: ForeignKey[]): DoctorCheck[] {
  const declared = new Set(m.postgres.tables.map((t) => t.name));
  const children = new Map<string, ForeignKey[]>();
  for (const fk of fks) {
    if (declared.has(fk.table) || !declared.has(fk.refTable)) continue;
    children.set(fk.table, [...(children.get(fk.table) ?? []), fk]);
  }
  return [...children].map(([table, list]) =>
    check(
      'fk-undeclared-child',
      'warn',
      `undeclared table ${table} references declared ${list.map((fk) => `${fk.refTable} (${fk.name})`).join(', ')}: a replay target holding ${table} rows that point at the graph's rows blocks materialize's delete; declare ${table} in postgres.tables with a deletePredicate, or materialize with --delete-dependents to delete those rows too`,
      { table, references: list.map((fk) => ({ constraint: fk.name, refTable: fk.refTable })) },
    ),
  );
}
