import { describe, expect, it } from 'vitest';
import { readColumns, readForeignKeys, tableExists } from '../../src/postgres/catalog.js';
import { withClient } from '../../src/postgres/connect.js';
import { useTestDatabase } from '../helpers/db.js';

describe('catalog', () => {
  const db = useTestDatabase();

  it('reads foreign keys once per declaration, naming partitioned tables by their root', async () => {
    await db.query(`
      create table customer (customer_id int primary key, name text not null);
      create table rental (rental_id int primary key, customer_id int not null references customer,
                           parent_rental_id int references rental deferrable initially deferred);
      create table staff (staff_id int primary key);
      create table payment (payment_id int, customer_id int not null, rental_id int, staff_id int,
                            amount numeric(5,2), paid_at timestamptz not null,
                            primary key (payment_id, paid_at),
                            constraint payment_customer_fk foreign key (customer_id) references customer,
                            constraint payment_rental_fk foreign key (rental_id) references rental (rental_id))
        partition by range (paid_at);
      create table payment_2022 partition of payment for values from ('2022-01-01') to ('2023-01-01');
      create table payment_2023 partition of payment for values from ('2023-01-01') to ('2024-01-01');
      -- As in Pagila's dump: an FK declared on each partition, not on the parent.
      alter table payment_2022 add constraint payment_2022_staff_fk foreign key (staff_id) references staff;
      alter table payment_2023 add constraint payment_2023_staff_fk foreign key (staff_id) references staff;
      create table refund (refund_id int primary key, payment_id int not null, paid_at timestamptz not null,
                           foreign key (payment_id, paid_at) references payment (payment_id, paid_at));
    `);
    const fks = await withClient(db.url, {}, (c) => readForeignKeys(c));
    expect(fks).toEqual([
      {
        name: 'payment_customer_fk',
        table: 'payment',
        columns: ['customer_id'],
        refTable: 'customer',
        refColumns: ['customer_id'],
        deferrable: false,
        initiallyDeferred: false,
      },
      {
        name: 'payment_rental_fk',
        table: 'payment',
        columns: ['rental_id'],
        refTable: 'rental',
        refColumns: ['rental_id'],
        deferrable: false,
        initiallyDeferred: false,
      },
      {
        name: 'payment_2022_staff_fk',
        table: 'payment',
        columns: ['staff_id'],
        refTable: 'staff',
        refColumns: ['staff_id'],
        deferrable: false,
        initiallyDeferred: false,
        onPartitions: ['payment_2022', 'payment_2023'],
      },
      {
        name: 'refund_payment_id_paid_at_fkey',
        table: 'refund',
        columns: ['payment_id', 'paid_at'],
        refTable: 'payment',
        refColumns: ['payment_id', 'paid_at'],
        deferrable: false,
        initiallyDeferred: false,
      },
      {
        name: 'rental_customer_id_fkey',
        table: 'rental',
        columns: ['customer_id'],
        refTable: 'customer',
        refColumns: ['customer_id'],
        deferrable: false,
        initiallyDeferred: false,
      },
      {
        name: 'rental_parent_rental_id_fkey',
        table: 'rental',
        columns: ['parent_rental_id'],
        refTable: 'rental',
        refColumns: ['rental_id'],
        deferrable: true,
        initiallyDeferred: true,
      },
    ]);
  });

  it('reads columns of existing tables (partitioned parents included) and skips missing ones', async () => {
    const cols = await withClient(db.url, {}, (c) => readColumns(c, ['payment', 'customer', 'nope']));
    expect([...cols.keys()].sort()).toEqual(['customer', 'payment']);
    expect(cols.get('payment')?.map((c) => c.name)).toEqual([
      'payment_id',
      'customer_id',
      'rental_id',
      'staff_id',
      'amount',
      'paid_at',
    ]);
    expect(cols.get('payment')?.find((c) => c.name === 'amount')?.type).toBe('numeric(5,2)');
    expect(cols.get('customer')?.find((c) => c.name === 'name')?.notNull).toBe(true);
  });

  it('tells whether a table exists', async () => {
    await withClient(db.url, {}, async (c) => {
      expect(await tableExists(c, 'payment')).toBe(true);
      expect(await tableExists(c, 'payment_nope')).toBe(false);
    });
  });
});
