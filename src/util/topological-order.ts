/**
 * The one topological sort: parents (dependencies) first, as close to the given order as the
 * edges allow. Used for the load order of tables (postgres/schema/load-order.ts) and for the
 * creation order of tables and types in the capsule's schema section (postgres/schema/ddl.ts).
 */

/** What each item depends on. Self-references and items outside the sorted list are ignored. */
export type ParentsOf<K> = (item: K) => Iterable<K>;

/**
 * Kahn's algorithm that always takes the earliest item (in `items` order) whose parents are all
 * placed, so an already valid order comes back unchanged. A cycle is broken at its earliest item.
 */
export function topologicalOrder<K>(items: readonly K[], parentsOf: ParentsOf<K>): K[] {
  const parents = new Map(items.map((k) => [k, [...parentsOf(k)]]));
  const pending = [...items];
  const inScope = new Set(items);
  const placed = new Set<K>();
  const out: K[] = [];
  const waitsOnlyOn = (t: K, allowed: (p: K) => boolean | undefined) =>
    (parents.get(t) ?? []).every((p) => p === t || !inScope.has(p) || placed.has(p) || allowed(p));
  while (pending.length > 0) {
    let idx = pending.findIndex((t) => waitsOnlyOn(t, () => false));
    if (idx < 0) {
      // Only cycles left: break the earliest cycle whose members wait on nothing but each other.
      const cycleOf = new Map<K, Set<K>>();
      for (const c of findCycles(pending, (k) => parents.get(k) ?? []))
        for (const t of c) cycleOf.set(t, new Set(c));
      idx = pending.findIndex((t) => waitsOnlyOn(t, (p) => cycleOf.get(t)?.has(p)));
      if (idx < 0) idx = 0;
    }
    const [t] = pending.splice(idx, 1) as [K];
    placed.add(t);
    out.push(t);
  }
  return out;
}

/** Strongly connected components with more than one item (Tarjan), each and all in `items` order. */
export function findCycles<K>(items: readonly K[], parentsOf: ParentsOf<K>): K[][] {
  const index = new Map<K, number>();
  const low = new Map<K, number>();
  const onStack = new Set<K>();
  const stack: K[] = [];
  const components: K[][] = [];
  const inScope = new Set(items);
  let next = 0;
  const visit = (v: K): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of parentsOf(v)) {
      if (w === v || !inScope.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) ?? 0, index.get(w) ?? 0));
      }
    }
    if (low.get(v) === index.get(v)) {
      const comp: K[] = [];
      let w: K | undefined;
      do {
        w = stack.pop();
        if (w === undefined) break;
        onStack.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1) components.push(comp);
    }
  };
  for (const t of items) if (!index.has(t)) visit(t);
  const rank = new Map(items.map((t, i) => [t, i]));
  const byRank = (a: K, b: K) => (rank.get(a) ?? 0) - (rank.get(b) ?? 0);
  return components.map((c) => c.sort(byRank)).sort((a, b) => byRank(a[0] as K, b[0] as K));
}
