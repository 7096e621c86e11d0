/**
 * REPLAYENC1, the pre-age format, is still READ (capsule/encryption.ts, docs/encryption.md); these
 * capsules are written by the old writer kept in test/helpers/replayenc1-writer.ts. The CLI part
 * (export --encrypt → materialize) now writes age (passphrase mode). Streaming round trips through
 * the real reader, every way of damaging a file is refused with the one clear message, the CLI
 * front doors take the key from REPLAY_CAPSULE_KEY, and export --encrypt → materialize works on a
 * real database — a decryption failure in the middle of a load rolls the transaction back.
 */
import { randomBytes } from 'node:crypto';
import {
  copyFileSync,
  createReadStream,
  createWriteStream,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGE_MAGIC } from '../src/capsule/age.js';
import {
  type CapsuleKey,
  capsuleOpenOptionsFor,
  createDecryptStream,
  decryptingOpener,
  parseCapsuleKey,
} from '../src/capsule/encryption.js';
import { ENCRYPTED_MAGIC } from '../src/capsule/open.js';
import { type CapsuleEvent, readCapsule, scanCapsule } from '../src/capsule/reader.js';
import { InputError } from '../src/errors.js';
import { loadManifest } from '../src/manifest/load.js';
import { materializeCapsule } from '../src/postgres/materialize/materialize-capsule.js';
import { stringifyExact } from '../src/util/exact-json.js';
import { type TestCapsule, writeTestCapsule } from './helpers/capsule-file.js';
import { cli } from './helpers/cli.js';
import { useTestDatabase, withClient } from './helpers/db.js';
import { createLegacyEncryptStream, type LegacyKey, legacyKey } from './helpers/replayenc1-writer.js';

const dir = mkdtempSync(join(tmpdir(), 'replay-enc-'));
const RAW_KEY = randomBytes(32);
const HEX_KEY = RAW_KEY.toString('hex');
const KEY: CapsuleKey = parseCapsuleKey(HEX_KEY);
const DECRYPT_FAILED = /cannot decrypt capsule: wrong key or corrupted file/;
// Small chunks: a few KB of capsule become dozens of chunks.
const CHUNK = 512;

function testCapsule(rows: number): TestCapsule {
  return {
    app: 'encapp',
    subject: { user_id: 'u1' },
    graph: [{ user_id: 'u1' }],
    tables: {
      profiles: Array.from({ length: rows }, (_, i) => ({
        id: i + 1,
        user_id: 'u1',
        // Exact numbers must survive: 2^53+1 and a decimal with a trailing zero.
        big: { exact: '9007199254740993' },
        note: `row ${i} ☃ ${'x'.repeat(i % 50)}`,
      })),
      empty: [],
    },
  };
}

/** Rows as exact JSON text, per table, in file order. */
async function readRows(path: string, key?: CapsuleKey): Promise<string[]> {
  const rows: string[] = [];
  await readCapsule(
    path,
    (e: CapsuleEvent) => {
      if (e.kind === 'row') rows.push(`${e.table}:${stringifyExact(e.row)}`);
    },
    capsuleOpenOptionsFor(key),
  );
  return rows;
}

async function encryptFile(
  src: string,
  dst: string,
  key: LegacyKey = legacyKey(HEX_KEY),
  chunkSize = CHUNK,
): Promise<void> {
  await pipeline(
    createReadStream(src),
    createLegacyEncryptStream(key, { chunkSize, scrypt: { N: 1 << 10, r: 8, p: 1 } }),
    createWriteStream(dst),
  );
}

/** Byte ranges of an encrypted file: header end and every chunk [start, end). */
function chunksOf(file: Buffer): {
  headerEnd: number;
  chunks: { start: number; end: number; final: boolean }[];
} {
  const headerEnd = file.indexOf(10, ENCRYPTED_MAGIC.length) + 1;
  const chunks: { start: number; end: number; final: boolean }[] = [];
  let pos = headerEnd;
  while (pos < file.length) {
    const word = file.readUInt32BE(pos);
    const len = word & 0x7fffffff;
    const end = pos + 4 + 12 + len + 16;
    chunks.push({ start: pos, end, final: (word & 0x80000000) !== 0 });
    pos = end;
  }
  return { headerEnd, chunks };
}

afterAll(() => rmSync(dir, { recursive: true, force: true }));

let plainPath = '';
let plainRows: string[] = [];
let encPath = '';

beforeAll(async () => {
  plainPath = join(dir, 'plain.json');
  // Rows contain a LosslessNumber-worthy value: write one by hand after the helper.
  writeTestCapsule(plainPath, testCapsule(300));
  writeFileSync(
    plainPath,
    readFileSync(plainPath, 'utf8').replaceAll('{"exact":"9007199254740993"}', '9007199254740993.10'),
  );
  plainRows = await readRows(plainPath);
  encPath = join(dir, 'plain.json.enc');
  await encryptFile(plainPath, encPath);
});

describe('key material', () => {
  it('accepts a 32-byte key as hex or base64, else a passphrase of at least 12 characters', () => {
    const source = 'REPLAY_CAPSULE_KEY';
    expect(parseCapsuleKey(HEX_KEY)).toEqual({ kind: 'raw', key: RAW_KEY, text: HEX_KEY, source });
    for (const text of [RAW_KEY.toString('base64'), RAW_KEY.toString('base64url')])
      expect(parseCapsuleKey(text)).toEqual({ kind: 'raw', key: RAW_KEY, text, source });
    expect(parseCapsuleKey('correct horse battery staple')).toEqual({
      kind: 'passphrase',
      passphrase: 'correct horse battery staple',
      source,
    });
    expect(() => parseCapsuleKey('short')).toThrow(InputError);
    expect(() => parseCapsuleKey('short')).toThrow(/REPLAY_CAPSULE_KEY: expected an age identity/);
  });
});

describe('round trip through the streaming reader', () => {
  it('a multi-chunk capsule decrypts to exactly the same rows and header', async () => {
    const file = readFileSync(encPath);
    expect(file.subarray(0, ENCRYPTED_MAGIC.length).equals(ENCRYPTED_MAGIC)).toBe(true);
    const { chunks } = chunksOf(file);
    expect(chunks.length).toBeGreaterThan(20);
    expect(chunks.filter((c) => c.final)).toHaveLength(1);
    expect(chunks.at(-1)!.final).toBe(true);
    // No plaintext leaks into the file.
    expect(file.includes(Buffer.from('row 1 ☃'))).toBe(false);

    expect(plainRows).toHaveLength(300);
    expect(plainRows[0]).toContain('9007199254740993.10');
    expect(await readRows(encPath, KEY)).toEqual(plainRows);
    const scan = await scanCapsule(encPath, capsuleOpenOptionsFor(KEY));
    expect(scan.counts).toEqual({ profiles: 300, empty: 0 });
    expect(scan.header.app).toBe('encapp');
  });

  it('gzip inside the encryption is detected after decrypting', async () => {
    const gz = join(dir, 'plain.json.gz');
    writeFileSync(gz, gzipSync(readFileSync(plainPath)));
    const enc = join(dir, 'plain.json.gz.enc');
    await encryptFile(gz, enc);
    expect(await readRows(enc, KEY)).toEqual(plainRows);
  });

  it('a passphrase works (scrypt, parameters in the header), and an empty plaintext round-trips', async () => {
    const pass = parseCapsuleKey('a long enough passphrase');
    const enc = join(dir, 'pass.json.enc');
    await encryptFile(plainPath, enc, legacyKey('a long enough passphrase'), 4096);
    const header = JSON.parse(readFileSync(enc).toString('utf8').split('\n')[1]!);
    expect(header).toMatchObject({
      format: 'replay-env-capsule',
      version: 1,
      cipher: 'aes-256-gcm',
      chunkSize: 4096,
      kdf: { name: 'scrypt', N: 1024, r: 8, p: 1 },
    });
    expect(await readRows(enc, pass)).toEqual(plainRows);

    const empty = join(dir, 'empty.enc');
    writeFileSync(join(dir, 'empty'), '');
    await encryptFile(join(dir, 'empty'), empty);
    const out: Buffer[] = [];
    const dec = createReadStream(empty).pipe(createDecryptStream(KEY));
    for await (const c of dec) out.push(c as Buffer);
    expect(Buffer.concat(out).length).toBe(0);
  });
});

describe('wrong key and damaged files are refused', () => {
  async function expectRefused(path: string, key: CapsuleKey = KEY, detail?: RegExp) {
    const seen: string[] = [];
    const read = readCapsule(
      path,
      (e) => {
        if (e.kind === 'row') seen.push(stringifyExact(e.row));
      },
      capsuleOpenOptionsFor(key),
    );
    await expect(read).rejects.toThrow(InputError);
    await expect(read).rejects.toThrow(DECRYPT_FAILED);
    if (detail) await expect(read).rejects.toThrow(detail);
    return seen;
  }

  function damaged(name: string, edit: (b: Buffer) => Buffer): string {
    const p = join(dir, name);
    writeFileSync(p, edit(Buffer.from(readFileSync(encPath))));
    return p;
  }

  it('a wrong key, and a key of the other kind', async () => {
    await expectRefused(encPath, parseCapsuleKey(randomBytes(32).toString('hex')));
    await expectRefused(encPath, parseCapsuleKey('some other passphrase'), /holds a passphrase/);
  });

  it('one flipped bit in the middle', async () => {
    const p = damaged('flipped.enc', (b) => {
      b[Math.floor(b.length / 2)]! ^= 0x01;
      return b;
    });
    await expectRefused(p);
  });

  it('an edited header (the chunk size is bound into every chunk)', async () => {
    const p = damaged('header.enc', (b) =>
      Buffer.from(b.toString('latin1').replace(`"chunkSize":${CHUNK}`, `"chunkSize":${CHUNK + 1}`), 'latin1'),
    );
    await expectRefused(p);
  });

  it('truncation: the final chunk dropped — rows already streamed, but the read fails', async () => {
    const p = damaged('truncated.enc', (b) => {
      const { chunks } = chunksOf(b);
      return b.subarray(0, chunks.at(-1)!.start);
    });
    const seen = await expectRefused(p, KEY, /final chunk is missing/);
    // The consumer saw authentic rows before the end; it must (and does) get the failure.
    expect(seen.length).toBeGreaterThan(0);
    // Cut inside a chunk, too.
    await expectRefused(damaged('cut.enc', (b) => b.subarray(0, b.length - 7)));
  });

  it('reordered, duplicated or appended chunks', async () => {
    const swap = damaged('swapped.enc', (b) => {
      const { headerEnd, chunks } = chunksOf(b);
      const part = (i: number) => b.subarray(chunks[i]!.start, chunks[i]!.end);
      return Buffer.concat([
        b.subarray(0, headerEnd),
        part(1),
        part(0),
        ...chunks.slice(2).map((_, i) => part(i + 2)),
      ]);
    });
    await expectRefused(swap);
    const dup = damaged('dup.enc', (b) => {
      const { headerEnd, chunks } = chunksOf(b);
      // chunk 0 twice, then the rest
      return Buffer.concat([b.subarray(0, chunks[1]!.start), b.subarray(headerEnd)]);
    });
    await expectRefused(dup);
    // A final chunk from another file with the same key appended after this file's final chunk.
    const other = join(dir, 'other.enc');
    await encryptFile(plainPath, other);
    const tail = damaged('appended.enc', (b) => {
      const o = readFileSync(other);
      const { chunks } = chunksOf(o);
      return Buffer.concat([b, o.subarray(chunks.at(-1)!.start)]);
    });
    await expectRefused(tail, KEY, /data after the final chunk/);
    // A chunk spliced in from the other file at the same position (same index, other file key).
    const spliced = damaged('spliced.enc', (b) => {
      const o = readFileSync(other);
      const mine = chunksOf(b).chunks;
      const theirs = chunksOf(o).chunks;
      return Buffer.concat([
        b.subarray(0, mine[3]!.start),
        o.subarray(theirs[3]!.start, theirs[3]!.end),
        b.subarray(mine[3]!.end),
      ]);
    });
    await expectRefused(spliced);
  });
});

describe('CLI: inspect', () => {
  it('needs REPLAY_CAPSULE_KEY (exit 2, named) and reads the capsule with it', async () => {
    const without = await cli(['inspect', encPath], { env: { REPLAY_CAPSULE_KEY: '' } });
    expect(without.code).toBe(2);
    expect(without.stderr).toMatch(/capsule is encrypted with a 32-byte key; set REPLAY_CAPSULE_KEY/);
    expect(without.stderr).not.toMatch(/\n\s+at /); // no stack trace

    const wrong = await cli(['inspect', encPath], {
      env: { REPLAY_CAPSULE_KEY: randomBytes(32).toString('hex') },
    });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(DECRYPT_FAILED);
    expect(wrong.stdout).toBe('');

    const ok = await cli(['inspect', encPath, '--json'], { env: { REPLAY_CAPSULE_KEY: HEX_KEY } });
    expect(ok.code, ok.stderr).toBe(0);
    const report = JSON.parse(ok.stdout);
    expect(report.file.encoding).toBe('encrypted');
    expect(report.tables).toEqual([
      { name: 'empty', rows: 0 },
      { name: 'profiles', rows: 300 },
    ]);

    const badKey = await cli(['inspect', encPath], { env: { REPLAY_CAPSULE_KEY: 'short' } });
    expect(badKey.code).toBe(2);
    expect(badKey.stderr).toMatch(/REPLAY_CAPSULE_KEY: expected an age identity/);

    // Unencrypted capsules are unaffected by a key being set.
    const plain = await cli(['inspect', plainPath, '--json'], { env: { REPLAY_CAPSULE_KEY: HEX_KEY } });
    expect(plain.code).toBe(0);
    expect(JSON.parse(plain.stdout).file.encoding).toBe('json');
  });
});

// ------------------------------------------------------------------------------------------------
// export --encrypt → materialize on a real database

const FIXTURE = join(import.meta.dirname, 'fixtures/action');
const db = useTestDatabase('enc');

describe('export --encrypt → materialize (real Postgres)', () => {
  const manifestPath = join(FIXTURE, 'replay.manifest.json');
  const env = { REPLAY_CAPSULE_KEY: HEX_KEY, NOTES_REPLAY_DATABASE_URL: '' };
  let target = '';

  const dump = (url: string, where: string) =>
    withClient(url, async (c) => {
      const out: Record<string, string> = {};
      for (const t of ['accounts', 'follows', 'notes'])
        out[t] = (
          await c.query(
            `select coalesce(string_agg(x::text, E'\\n' order by x.id), '') as s from ${t} x where ${where}`,
          )
        ).rows[0].s;
      return out;
    });

  beforeAll(async () => {
    await db.runFile(join(FIXTURE, 'schema.sql'));
    await db.runFile(join(FIXTURE, 'data.sql'));
    // Enough rows for many 64 KiB chunks.
    await db.query(
      `insert into notes select 1000 + g, 'acme', repeat('note ' || g || ' ', 20), '2024-02-01T00:00:00Z'::timestamptz + g * interval '1 minute' from generate_series(1, 4000) g`,
    );
    target = await db.create('enc_target');
    await withClient(
      target,
      async (c) => void (await c.query(readFileSync(join(FIXTURE, 'schema.sql'), 'utf8'))),
    );
  }, 120_000);

  const exportArgs = (out: string) => [
    'export-postgres',
    '--app',
    manifestPath,
    '--subject',
    'account_id=acme',
    '--since-days',
    '100000',
    '--out',
    out,
    '--db-url',
    db.url,
  ];

  it('--encrypt without REPLAY_CAPSULE_KEY is exit 2 naming the variable, and writes nothing', async () => {
    const out = join(dir, 'nokey', 'c.json.enc');
    const r = await cli([...exportArgs(out), '--encrypt'], { env: { REPLAY_CAPSULE_KEY: '' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--encrypt needs a passphrase in REPLAY_CAPSULE_KEY/);
    expect(() => readdirSync(join(dir, 'nokey'))).toThrow();
  });

  it('exports encrypted (plain and gzip inside), materializes exactly, and refuses without the key', {
    timeout: 120_000,
  }, async () => {
    for (const name of ['acme.json.enc', 'acme.json.gz.enc']) {
      const out = join(dir, name);
      const exported = await cli([...exportArgs(out), '--encrypt', '--json'], { env });
      expect(exported.code, exported.stderr).toBe(0);
      const result = JSON.parse(exported.stdout);
      expect(result.encrypted).toBe(true);
      expect(result.gzip).toBe(name.includes('.gz'));
      const bytes = readFileSync(out);
      expect(bytes.subarray(0, AGE_MAGIC.length).equals(AGE_MAGIC)).toBe(true);
      expect(result.bytes).toBe(bytes.length);
      const { createHash } = await import('node:crypto');
      expect(result.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
      expect(bytes.includes(Buffer.from('ops@acme.test'))).toBe(false);
      // No temp file left beside it.
      expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);

      const without = await cli(
        ['materialize-postgres', '--app', manifestPath, '--capsule', out, '--db-url', target],
        { env: { ...env, REPLAY_CAPSULE_KEY: '' } },
      );
      expect(without.code).toBe(2);
      expect(without.stderr).toMatch(/REPLAY_CAPSULE_KEY/);

      const loaded = await cli(
        ['materialize-postgres', '--app', manifestPath, '--capsule', out, '--db-url', target, '--json'],
        { env },
      );
      expect(loaded.code, loaded.stderr).toBe(0);
      const m = JSON.parse(loaded.stdout);
      expect(m.status).toBe('ok');
      expect(m.hashCheck).toBe('verified');
      expect(m.counts.find((c: { table: string }) => c.table === 'notes').database).toBe(4003);
      const graph = "account_id in ('acme', 'friend')";
      expect(await dump(target, 'true')).toEqual(await dump(db.url, graph));
    }
  });

  it('run: materializes an encrypted capsule with the key, refuses without it', {
    timeout: 120_000,
  }, async () => {
    const capsule = join(dir, 'acme.json.gz.enc');
    const runTarget = await db.create('enc_run');
    await withClient(
      runTarget,
      async (c) => void (await c.query(readFileSync(join(FIXTURE, 'schema.sql'), 'utf8'))),
    );
    const args = ['run', '--app', manifestPath, '--capsule', capsule, '--db-url', runTarget, '--json'];
    const without = await cli([...args, '--trace-out', join(dir, 'no-key.trace.json')], {
      env: { ...env, REPLAY_CAPSULE_KEY: '' },
    });
    expect(without.code).toBe(2);
    expect(without.stderr).toMatch(
      /capsule is encrypted with an age passphrase \(scrypt\); set REPLAY_CAPSULE_KEY/,
    );
    const ran = await cli([...args, '--trace-out', join(dir, 'run.trace.json')], { env });
    expect(ran.code, ran.stderr).toBe(0);
    const trace = JSON.parse(ran.stdout);
    expect(trace.materialization.status).toBe('ok');
    expect(await dump(runTarget, 'true')).toEqual(await dump(db.url, "account_id in ('acme', 'friend')"));
  });

  it('a decryption failure in the middle of the load rolls the whole transaction back', {
    timeout: 120_000,
  }, async () => {
    const good = join(dir, 'acme.json.enc');
    const bad = join(dir, 'acme.late-damage.json.enc');
    copyFileSync(good, bad);
    const b = readFileSync(bad);
    // Mid-file (an age payload chunk): inside the notes rows (most of the capsule), the last table loaded.
    b[Math.floor(b.length / 2)]! ^= 0xff;
    writeFileSync(bad, b);
    // Marker rows that a successful load would delete (they are in the graph) and replace.
    await withClient(target, (c) =>
      c.query("update notes set body = 'before the failed load' where account_id = 'acme'"),
    );
    const before = await dump(target, 'true');

    // The file "changes" after materialize indexed it: the index pass reads the good file, the
    // per-table passes read the damaged one — the failure happens while rows are being inserted.
    const opener = decryptingOpener(KEY);
    let opens = 0;
    const { manifest } = loadManifest(manifestPath);
    const load = materializeCapsule({
      manifest,
      capsulePath: good,
      url: target,
      open: { decrypt: (p) => (opens++ === 0 ? opener(p) : opener(bad)) },
    });
    await expect(load).rejects.toThrow(/damaged or truncated/);
    // The index pass read the good file; the failure came from a per-table pass, i.e. after the
    // graph's rows were deleted inside the transaction (the decryptor reads ahead, so it may be
    // the first table's pass that meets the damaged chunk).
    expect(opens).toBeGreaterThan(1);
    expect(await dump(target, 'true')).toEqual(before);
  });
});
