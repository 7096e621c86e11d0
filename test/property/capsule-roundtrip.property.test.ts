/**
 * Capsule round trip: arbitrary exact-JSON rows (big integers, long decimals, exponents, -0, 1e400,
 * astral-plane text, lone surrogates, NUL, empty and `__proto__` keys, nested arrays) written with
 * the real CapsuleWriter (plain and gzip) read back exactly — by the streaming reader
 * (capsule/reader.ts) and by materialize's line index (capsule/rows.ts) — and the
 * integrity hashes computed at export time verify against the rows read back.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { contentHash, INTEGRITY_ALGORITHM_V1, TableHasher } from '../../src/capsule/integrity.js';
import { readCapsule } from '../../src/capsule/reader.js';
import { indexCapsule } from '../../src/capsule/rows.js';
import { CapsuleWriter } from '../../src/capsule/writer.js';
import { canonicalFromText } from '../../src/postgres/export/canonical.js';
import { type ExactJson, LosslessNumber, stringifyExact } from '../../src/util/exact-json.js';
import { exactRow, hostileString } from './arbitraries.js';

const RUNS = { numRuns: Number(process.env.PROP_RUNS ?? 60) };
const dir = mkdtempSync(join(tmpdir(), 'replay-prop-capsule-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Row = Record<string, ExactJson>;

/** The same JSON with every non-ASCII character and `/` escaped (another valid text of the row). */
function escapedText(row: Row): string {
  return stringifyExact(row)
    .replace(/\//g, '\\/')
    .replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

// Table names are manifest identifiers; `toString`/`constructor` are legal ones that `{}` lookups
// misread. (`__proto__` is legal too, but zod's z.record drops that key from the header's integrity
// record, so such a table cannot be verified; not covered here.)
const TABLE_NAMES = ['users', 'events', 'constructor', 'toString', 'hasOwnProperty'];

const capsuleArb = fc.record({
  subject: fc.record({ user_id: hostileString({ nul: true, loneSurrogates: true }) }),
  tables: fc.uniqueArray(
    fc.tuple(
      fc.constantFrom(...TABLE_NAMES),
      fc.array(fc.tuple(exactRow({ nul: true, loneSurrogates: true, maxDepth: 4 }), fc.boolean()), {
        maxLength: 8,
      }),
    ),
    { selector: (t) => t[0], minLength: 1, maxLength: 3 },
  ),
  gzip: fc.boolean(),
});

let n = 0;

describe('capsule writer/reader round trip', () => {
  it('arbitrary rows come back exactly, by both readers, and the integrity record verifies', async () => {
    await fc.assert(
      fc.asyncProperty(capsuleArb, async ({ subject, tables, gzip }) => {
        const path = join(dir, `c${n++}.json${gzip ? '.gz' : ''}`);
        const graph = [{ user_id: subject.user_id, reasons: ['subject'] }];
        const w = await CapsuleWriter.open(path);
        expect(w.gzip).toBe(gzip);
        w.writeSection('schemaVersion', 1);
        w.writeSection('app', 'prop');
        w.writeSection('adapter', 'postgres-subject-graph.v1');
        w.writeSection('subject', subject);
        w.writeArraySection('graph', graph);
        w.writeSection('redaction', 'raw');
        w.beginTables();
        // Hashed as the exporter does: from the row's text, not from the object.
        const written: Record<string, { rows: number; sha256: string }> = {};
        for (const [name, rows] of tables) {
          w.beginTable(name);
          const h = new TableHasher(undefined, 3); // a small fold interval exercises folding too
          for (const [row, escaped] of rows) {
            const text = escaped ? escapedText(row) : stringifyExact(row);
            w.writeRow(text);
            h.addCanonical(canonicalFromText(text));
            await w.flush();
          }
          w.endTable();
          written[name] = { rows: h.rows, sha256: h.digest() };
        }
        w.endTables();
        const contentSha256 = contentHash(subject, graph, written);
        w.writeSection('integrity', {
          algorithm: INTEGRITY_ALGORITHM_V1,
          exporter: { name: 'prop', version: '0' },
          tables: written,
          contentSha256,
        });
        const result = await w.commit();
        const bytes = readFileSync(path);
        expect(result.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
        expect(result.bytes).toBe(bytes.length);
        expect(bytes[0] === 0x1f && bytes[1] === 0x8b).toBe(gzip);

        const expected = new Map(tables.map(([name, rows]) => [name, rows.map(([r]) => stringifyExact(r))]));

        // 1. the streaming reader
        const got = new Map<string, string[]>();
        const hashers = new Map<string, TableHasher>();
        const scan = await readCapsule(path, (e) => {
          if (e.kind === 'tableStart') {
            got.set(e.table, []);
            hashers.set(e.table, new TableHasher());
          } else if (e.kind === 'row') {
            got.get(e.table)!.push(stringifyExact(e.row));
            hashers.get(e.table)!.add(e.row);
          }
        });
        expect(got).toEqual(expected);
        expect(scan.header.subject).toEqual(subject);
        expect(scan.counts).toEqual(Object.fromEntries(tables.map(([t, rows]) => [t, rows.length])));
        const reread = Object.fromEntries(
          [...hashers].map(([t, h]) => [t, { rows: h.rows, sha256: h.digest() }]),
        );
        expect(reread).toEqual(written);
        expect(scan.header.integrity?.tables).toEqual(written);
        expect(contentHash(scan.header.subject, scan.header.graph, reread)).toBe(contentSha256);

        // 2. materialize's line index (the one-row-per-line fast path)
        const index = await indexCapsule(path);
        try {
          expect(index.layout).toBe('lines');
          for (const [name, rows] of expected) {
            const back: string[] = [];
            for await (const batch of index.rows(name, 3))
              for (const r of batch.rows) back.push(stringifyExact(r));
            expect(back).toEqual(rows);
          }
        } finally {
          await index.close();
        }
      }),
      RUNS,
    );
  });

  it('regression examples: the number forms and strings JSON.parse would damage', async () => {
    const row: Row = {
      big: new LosslessNumber('9007199254740993'),
      neg0: new LosslessNumber('-0'),
      huge: new LosslessNumber('1e400'),
      long: new LosslessNumber('0.1000000000000000000000000000001'),
      exp: new LosslessNumber('1E+2'),
      '': ['\ud800', '\u0000', '\u{1F600}', '\u2028'],
    };
    Object.defineProperty(row, '__proto__', {
      value: { '1': [[]] },
      enumerable: true,
      writable: true,
      configurable: true,
    });
    for (const gzip of [false, true]) {
      const path = join(dir, `reg${gzip ? '.json.gz' : '.json'}`);
      const w = await CapsuleWriter.open(path);
      for (const [k, v] of Object.entries({
        schemaVersion: 1,
        app: 'prop',
        adapter: 'postgres-subject-graph.v1',
        subject: { user_id: 'u' },
        graph: [],
        redaction: 'raw',
      }))
        w.writeSection(k, v);
      w.beginTables();
      w.beginTable('users');
      w.writeRow(escapedText(row));
      w.endTable();
      w.endTables();
      await w.commit();
      const rows: string[] = [];
      await readCapsule(path, (e) => {
        if (e.kind === 'row') rows.push(stringifyExact(e.row));
      });
      expect(rows).toEqual([stringifyExact(row)]);
      expect(rows[0]).toContain('"big":9007199254740993,"neg0":-0,"huge":1e400');
      expect(rows[0]).toContain('"__proto__":{"1":[[]]}');
    }
  });
});
