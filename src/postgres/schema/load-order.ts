/**
 * Load order of a manifest's tables: parents before the children that reference them by foreign
 * key (deletes run in reverse). Pure: the caller reads the foreign keys (catalog.ts) first.
 *
 * - With a non-empty `tableOrder` the manifest's order is kept, and every child-before-parent
 *   pair is reported as a violation. Declared tables missing from it (the original tool silently
 *   did not load them) are reported as `omitted` and placed at the earliest position after all
 *   their parents.
 * - Without one, the order is topological by foreign keys, declaration order breaking ties.
 * - Self-references (a comment replying to a comment) never constrain the order; cycles between
 *   tables are reported and broken at the first table in declaration order.
 */

import { findCycles, topologicalOrder } from '../../util/topological-order.js';

interface LoadOrderForeignKey {
  name: string;
  table: string;
  refTable: string;
}

interface LoadOrderViolation {
  child: string;
  parent: string;
  constraint: string;
}

export interface LoadOrderPlan {
  /** The order to load in (parents first). */
  order: string[];
  /** Pairs where `tableOrder` loads a child before a parent it references. */
  violations: LoadOrderViolation[];
  /** Groups of tables that reference each other in a cycle (each in declaration order). */
  cycles: string[][];
  /** Declared tables a non-empty `tableOrder` leaves out (placed by foreign keys in `order`). */
  omitted: string[];
  /** A parents-first order that stays as close to `order` as foreign keys allow (equal to
   * `order` when that already loads every parent first). */
  repaired: string[];
}

export interface LoadOrderInput {
  declared: readonly string[];
  tableOrder?: readonly string[];
  foreignKeys: readonly LoadOrderForeignKey[];
}

export function planLoadOrder(input: LoadOrderInput): LoadOrderPlan {
  const declared = dedupe(input.declared);
  const declaredSet = new Set(declared);
  const tableOrder = dedupe(input.tableOrder ?? []).filter((t) => declaredSet.has(t));
  // Edges between declared tables only, self-references dropped.
  const edges = input.foreignKeys.filter(
    (fk) => fk.table !== fk.refTable && declaredSet.has(fk.table) && declaredSet.has(fk.refTable),
  );
  const parents = new Map<string, Set<string>>(declared.map((t) => [t, new Set<string>()]));
  for (const fk of edges) parents.get(fk.table)?.add(fk.refTable);

  const parentsOf = (t: string) => parents.get(t) ?? [];
  const cycles = findCycles(declared, parentsOf);

  if (tableOrder.length === 0) {
    const order = topologicalOrder(declared, parentsOf);
    return { order, violations: [], cycles, omitted: [], repaired: order };
  }

  const position = new Map(tableOrder.map((t, i) => [t, i]));
  const violations: LoadOrderViolation[] = [];
  const reported = new Set<string>();
  for (const fk of edges) {
    const c = position.get(fk.table);
    const p = position.get(fk.refTable);
    if (c === undefined || p === undefined || c >= p) continue;
    const key = `${fk.table}\0${fk.refTable}\0${fk.name}`;
    if (reported.has(key)) continue;
    reported.add(key);
    violations.push({ child: fk.table, parent: fk.refTable, constraint: fk.name });
  }
  violations.sort((a, b) => (position.get(a.child) ?? 0) - (position.get(b.child) ?? 0));

  const inOrder = new Set(tableOrder);
  const omitted = declared.filter((t) => !inOrder.has(t));
  const order = [...tableOrder];
  // Omitted tables among themselves parents first, then each right after its last parent.
  for (const t of topologicalOrder(omitted, parentsOf)) {
    let at = 0;
    for (const p of parents.get(t) ?? []) {
      const i = order.indexOf(p);
      if (i >= 0) at = Math.max(at, i + 1);
    }
    order.splice(at, 0, t);
  }
  const repaired = topologicalOrder(order, parentsOf);
  return { order, violations, cycles, omitted, repaired };
}

function dedupe(list: readonly string[]): string[] {
  return [...new Set(list)];
}
