import { describe, expect, it } from 'vitest';
import { findCycles, topologicalOrder } from '../../src/util/topological-order.js';

const graph = (edges: Record<string, string[]>) => (k: string) => edges[k] ?? [];

describe('topologicalOrder (tables and types, parents first)', () => {
  it('returns an order that already puts parents first unchanged', () => {
    const deps = graph({ city: ['country'], address: ['city'] });
    expect(topologicalOrder(['country', 'city', 'address', 'film'], deps)).toEqual([
      'country',
      'city',
      'address',
      'film',
    ]);
  });

  it('places each item after its parents, taking the earliest ready item first', () => {
    const deps = graph({ rental: ['customer', 'inventory'], inventory: ['film'] });
    expect(topologicalOrder(['rental', 'customer', 'inventory', 'film'], deps)).toEqual([
      'customer',
      'film',
      'inventory',
      'rental',
    ]);
  });

  it('ignores self-references and parents outside the list, and works on any key type', () => {
    expect(topologicalOrder([3, 1, 2], (k) => (k === 3 ? [1, 3, 99] : k === 1 ? [2] : []))).toEqual([
      2, 1, 3,
    ]);
  });

  it('breaks a cycle at its earliest item and still places the cycle before its children', () => {
    const deps = graph({ staff: ['store'], store: ['staff'], rental: ['staff'] });
    expect(topologicalOrder(['rental', 'store', 'staff'], deps)).toEqual(['store', 'staff', 'rental']);
    expect(findCycles(['rental', 'staff', 'store'], deps)).toEqual([['staff', 'store']]);
  });
});
