/**
 * Done-when: a capsule of one Pagila customer (with referential closure) loads into an EMPTY
 * database with every foreign key enforced.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadManifest } from '../src/manifest/load.js';
import { exportCapsule } from '../src/postgres/export/export-capsule.js';
import { zeroSetupHooks } from '../src/postgres/export/zero-setup.js';
import { materializeCapsule } from '../src/postgres/materialize/materialize-capsule.js';
import { createSchemaHook } from '../src/postgres/materialize/zero-setup.js';
import { REPO_ROOT } from './helpers/cli.js';
import { useTestDatabase, withClient } from './helpers/db.js';
import { loadPagila } from './helpers/pagila.js';
import { hasPagila } from './helpers/shared.js';

const db = useTestDatabase('pagila_closure');

describe.skipIf(!hasPagila)('Pagila: one customer with closure into an empty database', () => {
  beforeAll(() => loadPagila(db.url), 180_000);

  it('loads with every foreign key of the carried schema validated', { timeout: 120_000 }, async () => {
    const { manifest } = loadManifest(join(REPO_ROOT, 'config/apps/pagila.json'));
    const out = join(mkdtempSync(join(tmpdir(), 'replay-pagila-')), 'customer-1.json');
    const hooks = zeroSetupHooks(manifest);
    // Pagila's activity is from 2022: a window wide enough to include it.
    await exportCapsule({
      manifest,
      subject: { customer_id: '1' },
      databaseUrl: db.url,
      out,
      sinceDays: 36500,
      redaction: 'raw',
      extraRows: hooks.extraRows,
      extraSections: hooks.extraSections,
    });
    const capsule = JSON.parse(readFileSync(out, 'utf8'));
    expect(capsule.tables.customer.length).toBeGreaterThan(0);
    expect(capsule.tables.rental.length).toBeGreaterThan(0);
    // The rentals' inventory, films, languages, stores, staff, addresses, cities, countries.
    for (const t of ['inventory', 'film', 'language', 'store', 'address', 'city', 'country'])
      expect(capsule.closure.tables[t]?.rows, t).toBeGreaterThan(0);
    expect(capsule.closure.tables.film.reasons['fk:inventory_film_id_fkey']).toBeGreaterThan(0);

    const target = await db.create('pagila_empty');
    const m = await materializeCapsule({
      manifest,
      capsulePath: out,
      url: target,
      prepareTarget: createSchemaHook({ capsulePath: out }),
    });
    expect(m.status).toBe('ok');
    for (const c of m.counts) expect(c.database, c.table).toBe(c.capsule);
    await withClient(target, async (c) => {
      // Every FK of the carried schema exists and is validated; none was left out.
      const fks = await c.query<{ n: number; invalid: number }>(
        "select count(*)::int as n, count(*) filter (where not convalidated)::int as invalid from pg_constraint where contype = 'f'",
      );
      const carried = capsule.schema.tables.reduce(
        (n: number, t: { constraints: { kind: string }[] }) =>
          n + t.constraints.filter((x) => x.kind === 'foreign').length,
        0,
      );
      expect(fks.rows[0]!.invalid).toBe(0);
      expect(fks.rows[0]!.n).toBeGreaterThanOrEqual(carried);
      expect(carried).toBeGreaterThan(10);
      expect(capsule.schema.omittedForeignKeys).toEqual([]);
      // And enforced: a rental of inventory that does not exist is refused.
      await expect(
        c.query(
          'insert into rental (rental_date, inventory_id, customer_id, staff_id) values (now(), 999999, 1, 1)',
        ),
      ).rejects.toThrow(/violates foreign key constraint/);
    });
  });
});
