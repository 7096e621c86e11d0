/**
 * The one load plan materialize uses and `doctor` checks: every table to load — the manifest's
 * declared tables and the tables only referential closure added (closure-only, undeclared) —
 * ordered parents first by the foreign keys between them. Deletes run in the reverse order.
 *
 * - `postgres.tableOrder` (when given) orders the declared tables; closure-only tables and declared
 *   tables it leaves out are placed right after their parents; if the result loads a child before
 *   a parent it references, the parents-first order closest to it is used (load-order.ts).
 * - Self-references never constrain the table order (one table's rows load together; see
 *   docs/materialize.md for chunks).
 * - A cycle between tables that both have rows loads when every foreign key in it is DEFERRABLE
 *   (materialize runs `set constraints all deferred`), or with triggers disabled; otherwise it is an
 *   error naming the tables and constraints.
 *
 * Pure: the caller reads the foreign keys (catalog.ts, or a capsule's schema section).
 */
import { FailureError } from '../../errors.js';
import type { Manifest } from '../../manifest/schema.js';
import type { ForeignKey } from '../catalog.js';
import { type LoadOrderPlan, planLoadOrder } from '../schema/load-order.js';
import { catalogName } from './sql.js';

export type PlanForeignKey = Pick<ForeignKey, 'name' | 'table' | 'refTable'> & { deferrable?: boolean };

export interface LoadPlanInput {
  manifest: Manifest;
  /** Undeclared tables to load too (referential closure), parents first when known. */
  closureOnly: readonly string[];
  /** Foreign keys by catalog (lower-case) table names; others are ignored. */
  foreignKeys: readonly PlanForeignKey[];
}

export interface LoadPlan extends LoadOrderPlan {
  /** Parents first: declared tables and closure-only tables. */
  tables: string[];
  /** Closure-only tables in the plan. */
  closureOnly: string[];
  /** The foreign keys between planned tables, named as the plan names them. */
  foreignKeys: PlanForeignKey[];
}

/** The load plan over declared and closure-only tables (see the header). */
export function planLoad(input: LoadPlanInput): LoadPlan {
  const declared = input.manifest.postgres.tables.map((t) => t.name);
  const declaredSet = new Set(declared);
  const closureOnly = [...new Set(input.closureOnly)].filter((t) => !declaredSet.has(t));
  const all = [...declared, ...closureOnly];
  const byCatalog = new Map(all.map((n) => [catalogName(n), n]));
  const foreignKeys = input.foreignKeys
    .filter((fk) => byCatalog.has(catalogName(fk.table)) && byCatalog.has(catalogName(fk.refTable)))
    .map((fk) => ({
      ...fk,
      table: byCatalog.get(catalogName(fk.table))!,
      refTable: byCatalog.get(catalogName(fk.refTable))!,
    }));
  const tableOrder = input.manifest.postgres.tableOrder;
  const plan = planLoadOrder({
    declared: all,
    tableOrder: tableOrder.length > 0 ? [...tableOrder] : undefined,
    foreignKeys,
  });
  const closureSet = new Set(closureOnly);
  const violations = plan.violations.filter((v) => !closureSet.has(v.child) && !closureSet.has(v.parent));
  return {
    ...plan,
    violations,
    omitted: plan.omitted.filter((t) => !closureSet.has(t)),
    // `repaired` equals `order` whenever that already loads parents first.
    tables: plan.repaired,
    closureOnly,
    foreignKeys,
  };
}

/**
 * The order materialize loads `capsuleTables` in, the warnings to report, and the FK cycles
 * between tables with rows (checked by checkCycles once the load knows what it could defer).
 */
export function materializeOrder(
  plan: LoadPlan,
  capsuleTables: readonly string[],
  counts: Record<string, number>,
): { order: string[]; warnings: string[]; cycles: LoadCycle[] } {
  const warnings: string[] = [];
  const inCapsule = new Set(capsuleTables);
  const omitted = plan.omitted.filter((t) => inCapsule.has(t));
  if (omitted.length > 0)
    warnings.push(
      `postgres.tableOrder leaves out ${omitted.join(', ')}; loaded anyway, placed by foreign keys (the original tool skipped them)`,
    );
  if (plan.violations.length > 0)
    warnings.push(
      `postgres.tableOrder loads ${plan.violations.map((v) => `${v.child} before its parent ${v.parent} (${v.constraint})`).join(', ')}; loading parents first instead`,
    );
  const withRows = new Set(capsuleTables.filter((t) => (counts[t] ?? 0) > 0));
  const cycles: LoadCycle[] = [];
  for (const cycle of plan.cycles) {
    const members = cycle.filter((t) => withRows.has(t));
    if (members.length < 2) continue;
    const inCycle = new Set(members);
    const hard = plan.foreignKeys.filter(
      (fk) => inCycle.has(fk.table) && inCycle.has(fk.refTable) && fk.table !== fk.refTable && !fk.deferrable,
    );
    cycles.push({ tables: members, hard });
  }
  return { order: plan.tables.filter((t) => inCapsule.has(t)), warnings, cycles };
}

export interface LoadCycle {
  /** Tables with rows that reference each other in a cycle. */
  tables: string[];
  /** The cycle's foreign keys that are not DEFERRABLE in the target. */
  hard: PlanForeignKey[];
}

/**
 * Cycles the load cannot satisfy: a non-deferrable foreign key in it that could not be deferred
 * for the load (defer-fks.ts) while triggers are on. Throws naming the cycle; returns warnings.
 */
export function checkCycles(
  cycles: readonly LoadCycle[],
  deferred: ReadonlySet<string>,
  options: { disableTriggers?: boolean } = {},
): string[] {
  const warnings: string[] = [];
  for (const cycle of cycles) {
    const hard = cycle.hard.filter((fk) => !deferred.has(fk.name));
    if (hard.length > 0 && !options.disableTriggers) throw new FailureError(cycleMessage(cycle.tables, hard));
    warnings.push(
      `tables ${cycle.tables.join(' ↔ ')} form a foreign-key cycle; loaded with ${
        options.disableTriggers
          ? 'triggers disabled'
          : cycle.hard.length === 0
            ? 'deferred constraints'
            : `deferred constraints (${cycle.hard.map((fk) => fk.name).join(', ')} made DEFERRABLE for the load, NOT DEFERRABLE again before commit)`
      }`,
    );
  }
  return warnings;
}

function cycleMessage(members: readonly string[], hard: readonly PlanForeignKey[]): string {
  return `tables ${members.join(' ↔ ')} reference each other in a cycle through foreign keys that are not deferrable (${hard
    .map((fk) => `${fk.table}.${fk.name} → ${fk.refTable}`)
    .join(
      ', ',
    )}); no load order satisfies them. Make them DEFERRABLE (ALTER TABLE … ALTER CONSTRAINT … DEFERRABLE), or load with --disable-triggers (superuser)`;
}

/**
 * Undeclared tables referential closure would add for the manifest: the FK ancestors of the
 * declared tables (transitively), minus `postgres.closure.exclude`; none when closure is off.
 * What `doctor` plans with (materialize takes them from the capsule).
 */
export function closureAncestors(manifest: Manifest, foreignKeys: readonly PlanForeignKey[]): string[] {
  if (manifest.postgres.closure?.enabled === false) return [];
  const exclude = new Set((manifest.postgres.closure?.exclude ?? []).map(catalogName));
  const declared = manifest.postgres.tables;
  const seen = new Set(declared.map((t) => catalogName(t.name)));
  const frontier = declared.filter((t) => t.closure !== false).map((t) => catalogName(t.name));
  const out: string[] = [];
  while (frontier.length > 0) {
    const table = frontier.shift()!;
    for (const fk of foreignKeys) {
      if (catalogName(fk.table) !== table) continue;
      const parent = catalogName(fk.refTable);
      if (seen.has(parent) || exclude.has(parent)) continue;
      seen.add(parent);
      out.push(parent);
      frontier.push(parent);
    }
  }
  return out;
}

/** Foreign keys a capsule's `schema` section records (for plans made without a connection). */
export function schemaSectionForeignKeys(schema: unknown): PlanForeignKey[] {
  const tables = (schema as { tables?: unknown } | undefined)?.tables;
  if (!Array.isArray(tables)) return [];
  const out: PlanForeignKey[] = [];
  for (const t of tables) {
    const name = (t as { name?: unknown })?.name;
    const constraints = (t as { constraints?: unknown })?.constraints;
    if (typeof name !== 'string' || !Array.isArray(constraints)) continue;
    for (const c of constraints) {
      const { kind, references, definition } = (c ?? {}) as Record<string, unknown>;
      if (kind !== 'foreign' || typeof references !== 'string') continue;
      out.push({
        name: String((c as { name?: unknown }).name ?? ''),
        table: name,
        refTable: references.replace(/^.*\./, ''),
        deferrable:
          typeof definition === 'string' &&
          /\bDEFERRABLE\b/.test(definition) &&
          !/NOT DEFERRABLE/.test(definition),
      });
    }
  }
  return out;
}
