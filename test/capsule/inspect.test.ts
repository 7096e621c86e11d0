import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { closureRows, inspectCapsule } from '../../src/capsule/inspect.js';
import { cli } from '../helpers/cli.js';
import { COMPAT_DIR, hasCompat } from '../helpers/shared.js';

const tmp = mkdtempSync(join(tmpdir(), 'inspect-'));
const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

describe.skipIf(!hasCompat)('inspect on the original tool capsules', () => {
  // From ../shared/compat/expected.md, "Row counts".
  const expected = {
    safe: {
      graph: 6,
      tables: {
        background_jobs: 2,
        chat_messages: 11,
        peer_links: 7,
        profiles: 5,
        provider_connections: 3,
        reactions: 4,
      },
      total: 32,
      exportedAt: '2026-11-26T19:06:30.085437+00:00',
      sinceDays: 30,
    },
    raw: {
      graph: 8,
      tables: {
        background_jobs: 3,
        chat_messages: 13,
        peer_links: 8,
        profiles: 7,
        provider_connections: 3,
        reactions: 5,
      },
      total: 39,
      exportedAt: '2026-11-26T19:06:30.141273+00:00',
      sinceDays: 3650,
    },
  } as const;

  for (const kind of ['safe', 'raw'] as const) {
    const file = join(COMPAT_DIR, `socialnotes.${kind}.json`);

    it(`prints the original's lines, then the details (${kind})`, async () => {
      const r = await cli(['inspect', file]);
      expect(r.code).toBe(0);
      const original = readFileSync(join(COMPAT_DIR, `socialnotes.${kind}.inspect.txt`), 'utf8');
      expect(r.stdout.startsWith(original)).toBe(true);
      expect(r.stdout).toContain(`exportedAt: ${expected[kind].exportedAt}\n`);
      expect(r.stdout).toContain(`window: ${expected[kind].sinceDays} days (since `);
      expect(r.stdout).toContain(`total rows: ${expected[kind].total}\n`);
      expect(r.stdout).toContain('subject rewrite: none\n');
      expect(r.stdout).toContain(
        '  user_id=u-bob, tenant_id=t-acme: chat_recipient, chat_sender, peer_target, reaction_actor\n',
      );
      expect(r.stdout).toContain('integrity: none\n');
      expect(r.stdout).toContain(`sha256: ${sha256(file)}\n`);
      expect(r.stdout).toContain(`(${readFileSync(file).length} bytes)`);
    });

    it(`reports the expected counts as JSON (${kind})`, async () => {
      const r = await cli(['inspect', file, '--json']);
      expect(r.code).toBe(0);
      const report = JSON.parse(r.stdout);
      expect(report.app).toBe('socialnotes');
      expect(report.redaction).toBe(kind);
      expect(report.graph.subjects).toBe(expected[kind].graph);
      expect(report.graph.entries[0]).toEqual({
        key: { user_id: 'u-alice', tenant_id: 't-acme' },
        reasons: ['chat_recipient', 'chat_sender', 'subject'],
      });
      expect(
        Object.fromEntries(report.tables.map((t: { name: string; rows: number }) => [t.name, t.rows])),
      ).toEqual(expected[kind].tables);
      expect(report.tables.map((t: { name: string }) => t.name)).toEqual(
        Object.keys(expected[kind].tables).sort(),
      );
      expect(report.file.sha256).toBe(sha256(file));
      expect(report.integrity).toEqual({ present: false, algorithm: null, contentSha256: null });
    });
  }

  it('reads a gzip-compressed capsule and hashes the compressed bytes', async () => {
    const gz = join(tmp, 'safe.json.gz');
    writeFileSync(gz, gzipSync(readFileSync(join(COMPAT_DIR, 'socialnotes.safe.json'))));
    const report = await inspectCapsule(gz);
    expect(report.file.encoding).toBe('gzip');
    expect(report.totalRows).toBe(32);
    expect(report.file.sha256).toBe(sha256(gz));
  });
});

describe('inspect on our extensions', () => {
  it('shows a subject rewrite, closure rows, findings and integrity, and truncates a long graph', async () => {
    const graph = Array.from({ length: 57 }, (_, i) => ({
      account_id: `a${String(i).padStart(3, '0')}`,
      reasons: i === 0 ? ['subject'] : ['peer'],
    }));
    const capsule = {
      schemaVersion: 1,
      app: 'shop',
      adapter: 'postgres-subject-graph.v1',
      exportedAt: '2026-01-01T00:00:00+00:00',
      window: { sinceDays: 7, sinceAt: '2025-12-25T00:00:00+00:00' },
      subject: { account_id: 'local' },
      graph,
      tables: { orders: [{ id: 1 }, { id: 2 }], accounts: [{ id: 9 }], empty: [] },
      redaction: 'safe',
      materialization: {
        subjectScopeRewrite: {
          from: { account_id: 'a000' },
          to: { account_id: 'local' },
          at: '2026-01-02T00:00:00Z',
        },
      },
      closure: { tables: { addresses: { rows: 4 }, cities: 2 } },
      findings: [{ table: 'orders', row: 0, path: '$.note', kind: 'aws-access-key' }],
      integrity: {
        algorithm: 'replay-env.rows-sha256-sum.v1',
        exporter: { name: 'replay-env', version: '0.4.0' },
        tables: {},
        contentSha256: 'a'.repeat(64),
      },
    };
    const file = join(tmp, 'ext.json');
    writeFileSync(file, JSON.stringify(capsule));
    const r = await cli(['inspect', file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('tables:\n  accounts: 1\n  empty: 0\n  orders: 2\n');
    expect(r.stdout).toContain(
      'subject rewrite: account_id=a000 -> account_id=local (at 2026-01-02T00:00:00Z)\n',
    );
    expect(r.stdout).toContain('graph subjects: 57\n');
    expect(r.stdout).toContain('  account_id=a049: peer\n');
    expect(r.stdout).not.toContain('account_id=a050');
    expect(r.stdout).toContain('  … and 7 more\n');
    expect(r.stdout).toContain('closure rows:\n  addresses: 4\n  cities: 2\n');
    expect(r.stdout).toContain('findings: 1\n');
    expect(r.stdout).toContain(
      `integrity: present (replay-env.rows-sha256-sum.v1, content sha256 ${'a'.repeat(64)})`,
    );
  });

  it('exits 2 naming the file when it is missing or not a capsule', async () => {
    const missing = join(tmp, 'missing.json');
    const r = await cli(['inspect', missing]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${missing}: capsule not found`);
    const notCapsule = join(tmp, 'not.json');
    writeFileSync(notCapsule, '{"app": "x", "tables": {}}');
    const n = await cli(['inspect', notCapsule]);
    expect(n.code).toBe(2);
    expect(n.stderr).toContain(`${notCapsule}: not a valid capsule`);
  });

  it('reads closure records of several shapes', () => {
    expect(closureRows(undefined)).toBeNull();
    expect(closureRows({ b: 2, a: { fk_1: 3, fk_2: 4 } })).toEqual([
      { name: 'a', rows: 7 },
      { name: 'b', rows: 2 },
    ]);
    expect(closureRows({ tables: { x: [{}, {}] } })).toEqual([{ name: 'x', rows: 2 }]);
  });
});
