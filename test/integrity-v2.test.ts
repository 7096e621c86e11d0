/**
 * Integrity record v2 (capsule/integrity.ts): each row's hash is over its jsonb text, the form
 * the exporter receives from the server and the materializer has Postgres compute. `jsonbText`
 * (rows the exporter changed: redacted, closure) must print exactly what Postgres prints, and the
 * sum Postgres computes (materialize/verify.ts) must equal the definition.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { INTEGRITY_ALGORITHM_V2, jsonbText, TableHasher } from '../src/capsule/integrity.js';
import { hashRowsWhere } from '../src/postgres/materialize/verify.js';
import { parseExact } from '../src/util/exact-json.js';
import { useTestDatabase, withClient } from './helpers/db.js';

const db = useTestDatabase('integ');

const SAMPLES = [
  '{}',
  '[]',
  '{"b": 1, "a": 2, "aa": [], "": null, "ab": {"y": true, "x": false}}',
  // key order is by UTF-8 byte length, then bytes: "é" (2 bytes) after "z", "👋" (4 bytes) last
  '{"é": 1, "z": 2, "👋": 3, "ｚ": 4, "\\u0001": 5, "zz": 6}',
  '{"s": "tab\\t nl\\n cr\\r bs\\\\ q\\" ctl\\u0001\\u001f del\\u007f / ü 👨‍👩‍👧 \\u2028"}',
  '{"n": [0, -0, 1.50, 1e2, 1.5E-3, -12345678901234567890.123456789, 1e-7]}',
  '[[1, [2, [3]]], {"a": [{"b": {}}]}, "x", null, true]',
];

describe('integrity v2 (jsonb text)', () => {
  it("jsonbText prints exactly Postgres' jsonb output", async () => {
    await withClient(db.url, async (c) => {
      for (const s of SAMPLES) {
        const { rows } = await c.query<{ t: string }>('select $1::jsonb::text as t', [s]);
        const server = rows[0]!.t;
        expect(jsonbText(parseExact(server)), s).toBe(server);
        // Input in any other layout renders the same once the numbers are jsonb's.
        expect(
          jsonbText(
            parseExact(
              s
                .replace(/1e2/, '100')
                .replace('1.5E-3', '0.0015')
                .replace('1e-7', '0.0000001')
                .replace('-0,', '0,'),
            ),
          ),
          s,
        ).toBe(server);
      }
    });
  });

  it("Postgres' sum over rows equals the definition (sum of sha256 of the jsonb text, mod 2^256), over the given columns only", async () => {
    await db.query(
      `create table hashme (id bigint primary key, note text, payload jsonb, extra int default 7)`,
    );
    await db.query(
      `insert into hashme (id, note, payload)
       select i, repeat('ü', i % 5) || i, jsonb_build_object('k', i, 'arr', jsonb_build_array(i, 'x'))
         from generate_series(1, 3000) i`,
    );
    const { rows } = await db.query<{ t: string }>(
      `select (to_jsonb(t.*) - 'extra')::text as t from hashme t where id % 2 = 0`,
    );
    let sum = 0n;
    const hasher = TableHasher.for(INTEGRITY_ALGORITHM_V2);
    for (const r of rows) {
      sum = (sum + BigInt(`0x${createHash('sha256').update(r.t, 'utf8').digest('hex')}`)) % (1n << 256n);
      hasher.add(parseExact(r.t));
    }
    const reference = sum.toString(16).padStart(64, '0');
    expect(hasher.digest()).toBe(reference);
    const got = await withClient(db.url, (c) =>
      hashRowsWhere(c, 'hashme', 't.id % 2 = 0', ['id', 'note', 'payload'], INTEGRITY_ALGORITHM_V2),
    );
    expect(got).toEqual({ rows: 1500, sha256: reference });
    const empty = await withClient(db.url, (c) =>
      hashRowsWhere(c, 'hashme', 'false', ['id'], INTEGRITY_ALGORITHM_V2),
    );
    expect(empty).toEqual({ rows: 0, sha256: '0'.repeat(64) });
  });
});
