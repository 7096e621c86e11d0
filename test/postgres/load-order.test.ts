import { describe, expect, it } from 'vitest';
import { planLoadOrder } from '../../src/postgres/schema/load-order.js';

const fk = (table: string, refTable: string, name = `${table}_${refTable}_fkey`) => ({
  name,
  table,
  refTable,
});

// country <- city <- address <- customer <- rental -> inventory -> film
const pagilaLike = [
  fk('city', 'country'),
  fk('address', 'city'),
  fk('customer', 'address'),
  fk('rental', 'customer'),
  fk('rental', 'inventory'),
  fk('inventory', 'film'),
  fk('payment', 'rental'),
  fk('payment', 'customer'),
];

describe('planLoadOrder', () => {
  it('orders parents first by foreign keys when there is no tableOrder, keeping declaration order for ties', () => {
    const plan = planLoadOrder({
      declared: ['payment', 'rental', 'customer', 'film', 'inventory', 'address'],
      tableOrder: [],
      foreignKeys: pagilaLike,
    });
    expect(plan.order).toEqual(['film', 'inventory', 'address', 'customer', 'rental', 'payment']);
    expect(plan.violations).toEqual([]);
    expect(plan.cycles).toEqual([]);
    expect(plan.omitted).toEqual([]);
    expect(plan.repaired).toEqual(plan.order);
  });

  it('keeps an already valid declaration order unchanged', () => {
    const declared = ['customer', 'film', 'inventory', 'rental', 'payment'];
    expect(planLoadOrder({ declared, foreignKeys: pagilaLike }).order).toEqual(declared);
  });

  it('keeps tableOrder as given and reports each child loaded before its parent', () => {
    const plan = planLoadOrder({
      declared: ['customer', 'rental', 'payment'],
      tableOrder: ['payment', 'customer', 'rental'],
      foreignKeys: pagilaLike,
    });
    expect(plan.order).toEqual(['payment', 'customer', 'rental']);
    expect(plan.violations).toEqual([
      { child: 'payment', parent: 'rental', constraint: 'payment_rental_fkey' },
      { child: 'payment', parent: 'customer', constraint: 'payment_customer_fkey' },
    ]);
    expect(plan.repaired).toEqual(['customer', 'rental', 'payment']);
  });

  it('places declared tables missing from tableOrder right after their parents, and reports them', () => {
    const plan = planLoadOrder({
      declared: ['customer', 'rental', 'payment', 'address', 'inventory', 'film'],
      tableOrder: ['address', 'customer', 'rental', 'payment'],
      foreignKeys: pagilaLike,
    });
    expect(plan.omitted).toEqual(['inventory', 'film']);
    // film has no declared parent (position 0), inventory right after film.
    expect(plan.order).toEqual(['film', 'inventory', 'address', 'customer', 'rental', 'payment']);
    expect(plan.violations).toEqual([]);
    expect(plan.repaired).toEqual(plan.order);
  });

  it('places an omitted table after its last parent, not at the end', () => {
    const plan = planLoadOrder({
      declared: ['a', 'b', 'c', 'd'],
      tableOrder: ['a', 'b', 'd'],
      foreignKeys: [fk('c', 'a'), fk('d', 'c')],
    });
    expect(plan.order).toEqual(['a', 'c', 'b', 'd']);
    expect(plan.omitted).toEqual(['c']);
  });

  it('ignores self-references and foreign keys to undeclared tables', () => {
    const plan = planLoadOrder({
      declared: ['comment', 'post'],
      foreignKeys: [
        fk('comment', 'comment', 'comment_parent_fkey'),
        fk('comment', 'post'),
        fk('post', 'users'),
      ],
    });
    expect(plan.order).toEqual(['post', 'comment']);
    expect(plan.cycles).toEqual([]);
  });

  it('reports cycles and still returns every table once', () => {
    const plan = planLoadOrder({
      declared: ['x', 'a', 'b', 'c'],
      foreignKeys: [fk('a', 'b'), fk('b', 'c'), fk('c', 'a'), fk('x', 'a')],
    });
    expect(plan.cycles).toEqual([['a', 'b', 'c']]);
    expect([...plan.order].sort()).toEqual(['a', 'b', 'c', 'x']);
    expect(plan.order.indexOf('x')).toBeGreaterThan(plan.order.indexOf('a'));
  });

  it('reports one violation per constraint even when a pair has two foreign keys', () => {
    const plan = planLoadOrder({
      declared: ['staff', 'store'],
      tableOrder: ['staff', 'store'],
      foreignKeys: [fk('staff', 'store', 'staff_store_id_fkey'), fk('staff', 'store', 'staff_other_fkey')],
    });
    expect(plan.violations.map((v) => v.constraint)).toEqual(['staff_store_id_fkey', 'staff_other_fkey']);
    expect(plan.repaired).toEqual(['store', 'staff']);
  });
});
