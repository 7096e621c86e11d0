/**
 * REPLAYENC1 public-key mode, still READ (capsules written before age; the old writer lives in
 * test/helpers/replayenc1-writer.ts). Public-key encrypted capsules (capsule/encryption.ts, docs/encryption.md): `replay-env keygen`,
 * `export-postgres --encrypt-to <.pub>`, readers holding the X25519 private key in
 * REPLAY_CAPSULE_KEY (the whole PEM, as a CI secret arrives) or REPLAY_CAPSULE_KEY_FILE.
 * Every bad key is a clear exit 2 before any database is touched; every changed byte fails with the
 * one decrypt message; a failed materialize leaves the target byte-for-byte as it was.
 */
import { execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync } from 'node:crypto';
import {
  createReadStream,
  createWriteStream,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CapsuleKey,
  capsuleKeyFromEnv,
  capsuleOpenOptionsFor,
  createDecryptStream,
  DEFAULT_CHUNK_SIZE,
  parseCapsuleKey,
} from '../src/capsule/encryption.js';
import { ENCRYPTED_MAGIC } from '../src/capsule/open.js';
import { type CapsuleEvent, readCapsule } from '../src/capsule/reader.js';
import { InputError } from '../src/errors.js';
import { stringifyExact } from '../src/util/exact-json.js';
import { writeTestCapsule } from './helpers/capsule-file.js';
import { cli } from './helpers/cli.js';
import {
  createLegacyEncryptStream,
  generateCapsuleKeyPair,
  type LegacyKey,
  legacyKey,
  readRecipientKey,
} from './helpers/replayenc1-writer.js';

const dir = mkdtempSync(join(tmpdir(), 'replay-pk-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const DECRYPT_FAILED = /cannot decrypt capsule: wrong key or corrupted file/;
const _NO_STACK = /\n\s+at /;
/** Neither key variable leaks in from the developer's shell. */
const NO_KEY = { REPLAY_CAPSULE_KEY: '', REPLAY_CAPSULE_KEY_FILE: '' };

/** An X25519 PEM key pair as the old `replay-env keygen` wrote it: <name> and <name>.pub. */
async function keygen(name: string) {
  const privateKey = join(dir, name);
  const pair = generateCapsuleKeyPair();
  writeFileSync(privateKey, pair.privatePem, { mode: 0o600 });
  writeFileSync(`${privateKey}.pub`, pair.publicPem);
  return {
    privateKey,
    publicKey: `${privateKey}.pub`,
    fingerprint: pair.fingerprint,
    privatePem: pair.privatePem,
    publicPem: pair.publicPem,
  };
}

function _spkiFingerprint(pubPem: string): string {
  const der = Buffer.from(pubPem.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
  return createHash('sha256').update(der).digest('hex');
}

async function encryptFile(src: string, dst: string, key: LegacyKey, chunkSize?: number): Promise<void> {
  await pipeline(
    createReadStream(src),
    createLegacyEncryptStream(key, chunkSize ? { chunkSize } : {}),
    createWriteStream(dst),
  );
}

/** Decrypts a whole buffer (fed in 16 KiB pieces); resolves with the plaintext released so far on failure too. */
async function decryptBuffer(buf: Buffer, key: CapsuleKey): Promise<{ out: Buffer; error?: unknown }> {
  const parts: Buffer[] = [];
  const pieces: Buffer[] = [];
  for (let i = 0; i < buf.length; i += 16384) pieces.push(buf.subarray(i, i + 16384));
  try {
    await pipeline(
      Readable.from(pieces),
      createDecryptStream(key, 'cap.enc'),
      new Writable({
        write(c: Buffer, _e, cb) {
          parts.push(c);
          cb();
        },
      }),
    );
    return { out: Buffer.concat(parts) };
  } catch (error) {
    return { out: Buffer.concat(parts), error };
  }
}

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

function headerOf(file: Buffer): Record<string, unknown> & { kdf: Record<string, unknown> } {
  const end = file.indexOf(10, ENCRYPTED_MAGIC.length);
  return JSON.parse(file.subarray(ENCRYPTED_MAGIC.length, end).toString('utf8'));
}

let alice: Awaited<ReturnType<typeof keygen>>;
let mallory: Awaited<ReturnType<typeof keygen>>;
let alicePriv: CapsuleKey;
let plainPath = '';
let plainRows: string[] = [];
let plainBytes: Buffer;

beforeAll(async () => {
  alice = await keygen('alice.key');
  mallory = await keygen('mallory.key');
  alicePriv = parseCapsuleKey(alice.privatePem);
  // ~300 KiB of capsule text: several 64 KiB chunks.
  plainPath = join(dir, 'plain.json');
  writeTestCapsule(plainPath, {
    app: 'pkapp',
    subject: { user_id: 'u1' },
    graph: [{ user_id: 'u1' }],
    tables: {
      profiles: Array.from({ length: 1500 }, (_, i) => ({
        id: i + 1,
        user_id: 'u1',
        note: `row ${i} ☃ ${'y'.repeat(150 + (i % 60))}`,
      })),
    },
  });
  plainBytes = readFileSync(plainPath);
  expect(plainBytes.length).toBeGreaterThan(4 * DEFAULT_CHUNK_SIZE);
  plainRows = await readRows(plainPath);
});

describe('public-key encryption: round trip and format', () => {
  it('multi-chunk capsules (plain and gzip inside) round-trip exactly; the header names the recipient', async () => {
    const recipient = readRecipientKey(alice.publicKey, dir);
    const gz = join(dir, 'plain.json.gz');
    writeFileSync(gz, gzipSync(plainBytes));
    for (const src of [plainPath, gz]) {
      const enc = `${src}.enc`;
      await encryptFile(src, enc, recipient);
      const file = readFileSync(enc);
      expect(file.subarray(0, ENCRYPTED_MAGIC.length).equals(ENCRYPTED_MAGIC)).toBe(true);
      const header = headerOf(file);
      expect(header).toMatchObject({
        format: 'replay-env-capsule',
        version: 1,
        cipher: 'aes-256-gcm',
        chunkSize: DEFAULT_CHUNK_SIZE,
        kdf: { name: 'x25519-hkdf-sha256', recipient: alice.fingerprint },
      });
      expect(Buffer.from(header.kdf.ephemeralPublicKey as string, 'base64')).toHaveLength(32);
      expect(Buffer.from(header.kdf.salt as string, 'base64')).toHaveLength(16);
      expect(file.includes(Buffer.from('row 1 ☃'))).toBe(false);
      expect(await readRows(enc, alicePriv)).toEqual(plainRows);
    }
    // A fresh ephemeral key and salt per file: the same input never gives the same bytes.
    const again = join(dir, 'again.enc');
    await encryptFile(plainPath, again, recipient);
    const a = headerOf(readFileSync(`${plainPath}.enc`)).kdf;
    const b = headerOf(readFileSync(again)).kdf;
    expect(b.ephemeralPublicKey).not.toBe(a.ephemeralPublicKey);
    expect(b.salt).not.toBe(a.salt);
  });

  it('encrypts and decrypts in bounded pieces (the plaintext is released chunk by chunk)', async () => {
    // 5 MiB through the streams with a small consumer buffer: the decryptor releases 64 KiB
    // chunks as they authenticate, never the whole plaintext at once.
    const big = Buffer.alloc(5 << 20, 'abcdefgh');
    const enc: Buffer[] = [];
    await pipeline(
      Readable.from([big.subarray(0, 3 << 20), big.subarray(3 << 20)]),
      createLegacyEncryptStream(readRecipientKey(alice.publicKey, dir)),
      new Writable({
        write(c: Buffer, _e, cb) {
          enc.push(c);
          cb();
        },
      }),
    );
    let largest = 0;
    let total = 0;
    await pipeline(
      Readable.from(enc),
      createDecryptStream(alicePriv),
      new Writable({
        highWaterMark: 1,
        write(c: Buffer, _e, cb) {
          largest = Math.max(largest, c.length);
          total += c.length;
          cb();
        },
      }),
    );
    expect(total).toBe(big.length);
    expect(largest).toBeLessThanOrEqual(DEFAULT_CHUNK_SIZE);
  });
});

describe('public-key capsules: wrong keys and changed bytes', () => {
  // ~80 KiB of plaintext in 4 KiB chunks: 20 chunks, so flips land in lengths, nonces, ciphertext
  // and tags of many chunks, and the whole sweep stays fast.
  const FLIP_CHUNK = 4096;
  let flipPlain: Buffer;
  let encPath = '';
  let file: Buffer;
  beforeAll(async () => {
    flipPlain = plainBytes.subarray(0, 80 * 1024);
    const src = join(dir, 'flip.json');
    writeFileSync(src, flipPlain);
    encPath = join(dir, 'flip.json.enc');
    await encryptFile(src, encPath, readRecipientKey(alice.publicKey, dir), FLIP_CHUNK);
    file = readFileSync(encPath);
  });

  it('a private key of another pair: "encrypted to key <fp>, your key is <fp>"', async () => {
    const r = await decryptBuffer(file, parseCapsuleKey(mallory.privatePem));
    expect(r.error).toBeInstanceOf(InputError);
    expect(String(r.error)).toMatch(DECRYPT_FAILED);
    expect(String(r.error)).toContain(
      `encrypted to key ${alice.fingerprint}, your key is ${mallory.fingerprint}`,
    );
    expect(r.out.length).toBe(0);
  });

  it('without a key, the refusal says how the capsule was encrypted (the recipient fingerprint)', async () => {
    const noKey = { REPLAY_CAPSULE_KEY: '', REPLAY_CAPSULE_KEY_FILE: '' };
    const r = await cli(['inspect', encPath], { env: noKey });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      `${encPath}: capsule is encrypted to public key ${alice.fingerprint}; set REPLAY_CAPSULE_KEY`,
    );
    const symPath = join(dir, 'flip.sym.json.enc');
    await encryptFile(join(dir, 'flip.json'), symPath, legacyKey('f'.repeat(64)));
    const sym = await cli(['inspect', symPath], { env: noKey });
    expect(sym.code).toBe(2);
    expect(sym.stderr).toContain(
      `${symPath}: capsule is encrypted with a 32-byte key; set REPLAY_CAPSULE_KEY`,
    );
  });

  it('kind mismatches are named both ways', async () => {
    const sym = await decryptBuffer(file, parseCapsuleKey('f'.repeat(64)));
    expect(String(sym.error)).toMatch(DECRYPT_FAILED);
    expect(String(sym.error)).toMatch(
      new RegExp(
        `encrypted to a public key \\(fingerprint ${alice.fingerprint}\\), but REPLAY_CAPSULE_KEY holds a 32-byte key`,
      ),
    );
    const pass = await decryptBuffer(file, parseCapsuleKey('a long enough passphrase'));
    expect(String(pass.error)).toMatch(/encrypted to a public key .*holds a passphrase/);

    const symFile = join(dir, 'sym.enc');
    await encryptFile(plainPath, symFile, legacyKey('e'.repeat(64)));
    const priv = await decryptBuffer(readFileSync(symFile), alicePriv);
    expect(String(priv.error)).toMatch(DECRYPT_FAILED);
    expect(String(priv.error)).toMatch(
      /encrypted with a 32-byte key \(symmetric mode\), but REPLAY_CAPSULE_KEY holds an X25519 private key/,
    );
  });

  it('flipping any single byte (header bytes, every 97th byte, the last bytes) fails with the decrypt message', async () => {
    const headerEnd = file.indexOf(10, ENCRYPTED_MAGIC.length) + 1;
    const positions = new Set<number>();
    for (let i = ENCRYPTED_MAGIC.length; i < headerEnd; i++) positions.add(i);
    for (let i = 0; i < file.length; i += 97) positions.add(i);
    for (let i = Math.max(0, file.length - 48); i < file.length; i++) positions.add(i);
    let checked = 0;
    for (const pos of positions) {
      if (pos < ENCRYPTED_MAGIC.length) continue; // the magic: below, through the reader
      // Header bytes: both a low bit and a whole byte; elsewhere one bit, varying with position.
      const masks = pos < headerEnd ? [0x01, 0xff] : [1 << (pos % 8)];
      for (const mask of masks) {
        const bad = Buffer.from(file);
        bad[pos]! ^= mask;
        const r = await decryptBuffer(bad, alicePriv);
        expect(r.error, `byte ${pos} ^ ${mask} was accepted`).toBeInstanceOf(InputError);
        expect(String(r.error), `byte ${pos}`).toMatch(/cap\.enc: cannot decrypt capsule/);
        // Only authentic plaintext is ever released: a prefix, ending before the damaged chunk.
        expect(flipPlain.subarray(0, r.out.length).equals(r.out)).toBe(true);
        const chunk = pos < headerEnd ? 0 : Math.floor((pos - headerEnd) / (FLIP_CHUNK + 32));
        expect(r.out.length).toBeLessThanOrEqual(chunk * FLIP_CHUNK);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(file.length / 97);
    // Most header flips say exactly the one message.
    const bad = Buffer.from(file);
    bad[headerEnd - 5]! ^= 0x01;
    expect(String((await decryptBuffer(bad, alicePriv)).error)).toMatch(DECRYPT_FAILED);
  });

  it('a changed magic byte is refused by the reader as a damaged encrypted capsule (no rows)', async () => {
    const full = join(dir, 'full.json.enc');
    await encryptFile(plainPath, full, readRecipientKey(alice.publicKey, dir));
    expect(await readRows(full, alicePriv)).toHaveLength(1500); // the control: intact, it reads
    const fullBytes = readFileSync(full);
    for (let pos = 0; pos < ENCRYPTED_MAGIC.length; pos++) {
      const bad = Buffer.from(fullBytes);
      bad[pos]! ^= 0x01;
      const p = join(dir, `magic-${pos}.enc`);
      writeFileSync(p, bad);
      const rows: unknown[] = [];
      const read = readCapsule(
        p,
        (e) => void (e.kind === 'row' && rows.push(e)),
        capsuleOpenOptionsFor(alicePriv),
      );
      await expect(read, `magic byte ${pos}`).rejects.toThrow(InputError);
      await expect(read).rejects.toThrow(
        `damaged encrypted capsule: its header is not "REPLAYENC1" (byte ${pos} changed)`,
      );
      expect(rows).toEqual([]);
    }
  });
});

describe('reader key sources', () => {
  it('REPLAY_CAPSULE_KEY holds the whole PEM; CRLF, indentation and literal \\n escapes are tolerated', () => {
    const pem = alice.privatePem;
    for (const text of [
      pem,
      pem.replace(/\n/g, '\r\n'),
      pem
        .trim()
        .split('\n')
        .map((l) => `   ${l}`)
        .join('\n'),
      pem.trim().replace(/\n/g, '\\n'),
    ])
      expect(capsuleKeyFromEnv({ REPLAY_CAPSULE_KEY: text })).toMatchObject({
        kind: 'x25519-private',
        fingerprint: alice.fingerprint,
      });
  });

  it('REPLAY_CAPSULE_KEY_FILE (relative to the working directory); both set is an error', () => {
    expect(capsuleKeyFromEnv({ REPLAY_CAPSULE_KEY_FILE: 'alice.key' }, dir)).toMatchObject({
      kind: 'x25519-private',
      fingerprint: alice.fingerprint,
    });
    // A symmetric key in a file works too (its trailing newline is not part of it).
    writeFileSync(join(dir, 'sym.txt'), `${'ab'.repeat(32)}\n`);
    expect(capsuleKeyFromEnv({ REPLAY_CAPSULE_KEY_FILE: 'sym.txt' }, dir)).toMatchObject({ kind: 'raw' });
    expect(() =>
      capsuleKeyFromEnv({ REPLAY_CAPSULE_KEY: alice.privatePem, REPLAY_CAPSULE_KEY_FILE: alice.privateKey }),
    ).toThrow(/both REPLAY_CAPSULE_KEY and REPLAY_CAPSULE_KEY_FILE are set/);
    expect(() => capsuleKeyFromEnv({ REPLAY_CAPSULE_KEY_FILE: 'nope.key' }, dir)).toThrow(
      /REPLAY_CAPSULE_KEY_FILE \(.*nope\.key\): file not found/,
    );
  });

  it('bad private keys: the public key, a non-X25519 key, garbage — clear, and never echo the key', () => {
    expect(() => parseCapsuleKey(alice.publicPem)).toThrow(
      /holds a PUBLIC key; reading a capsule needs the PRIVATE key/,
    );
    const ed = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    expect(() => parseCapsuleKey(ed)).toThrow(/is an ED25519 private key; capsules need an X25519 key pair/);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({
      type: 'pkcs1',
      format: 'pem',
    }) as string;
    expect(() => parseCapsuleKey(rsa)).toThrow(
      /found a "RSA PRIVATE KEY" PEM block; expected an X25519 private key in PKCS#8/,
    );
    const locked = generateKeyPairSync('x25519').privateKey.export({
      type: 'pkcs8',
      format: 'pem',
      cipher: 'aes-256-cbc',
      passphrase: 'correct horse battery staple',
    }) as string;
    expect(() => parseCapsuleKey(locked)).toThrow(
      /the private key is passphrase-protected; give it unencrypted/,
    );
    const broken = alice.privatePem.replace(/\n[A-Za-z0-9+/]{10}/, '\n');
    let message = '';
    try {
      parseCapsuleKey(broken);
    } catch (e) {
      message = String(e);
    }
    expect(message).toMatch(/REPLAY_CAPSULE_KEY: (the PEM private key cannot be read|not a PEM key)/);
    expect(message).not.toContain(broken.split('\n')[1]!.slice(20));
  });
});

describe('openssl-made keys', () => {
  let hasOpenssl = true;
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
  } catch {
    hasOpenssl = false;
    console.warn('openssl is not on PATH: skipping the openssl key-pair test');
  }

  it.skipIf(!hasOpenssl)(
    'openssl genpkey X25519 + pkey -pubout work, and openssl agrees on our fingerprint',
    async () => {
      const key = join(dir, 'ossl.key');
      execFileSync('openssl', ['genpkey', '-algorithm', 'X25519', '-out', key]);
      execFileSync('openssl', ['pkey', '-in', key, '-pubout', '-out', `${key}.pub`]);
      const recipient = readRecipientKey(`${key}.pub`, dir);
      const der = execFileSync('openssl', ['pkey', '-pubin', '-in', `${key}.pub`, '-outform', 'DER']);
      expect(recipient).toMatchObject({ fingerprint: createHash('sha256').update(der).digest('hex') });
      const enc = join(dir, 'ossl.json.enc');
      await encryptFile(plainPath, enc, recipient);
      const inspected = await cli(['inspect', 'ossl.json.enc', '--json'], {
        cwd: dir,
        env: { ...NO_KEY, REPLAY_CAPSULE_KEY_FILE: 'ossl.key' },
      });
      expect(inspected.code, inspected.stderr).toBe(0);
      expect(JSON.parse(inspected.stdout).tables).toEqual([{ name: 'profiles', rows: 1500 }]);
      // And openssl reads keygen's private key: its public half is keygen's .pub.
      const pub = execFileSync('openssl', ['pkey', '-in', alice.privateKey, '-pubout'], { encoding: 'utf8' });
      expect(pub).toBe(alice.publicPem);
    },
  );
});
