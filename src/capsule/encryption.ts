/**
 * Encrypted capsules (docs/encryption.md). New capsules are age files (capsule/age.ts): X25519
 * recipients (`--encrypt-to age1…`) or age's scrypt passphrase (`--encrypt`). This module turns the
 * key the front door found into a CapsuleKey, and opens encrypted files of both formats: age, and
 * REPLAYENC1 — replay-env's own earlier format, still READ (decrypt only, below) so capsules
 * written before age keep loading; nothing writes it any more.
 *
 * REPLAYENC1, as written by replay-env ≤ 0.4:
 *
 *   "REPLAYENC1\n"
 *   {"format":"replay-env-capsule","version":1,"cipher":"aes-256-gcm","kdf":{…},"chunkSize":65536}\n
 *   chunk*                       each: u32be length|FINAL_BIT · 12-byte nonce · ciphertext · 16-byte tag
 *
 * - Key: a 32-byte key (64 hex chars or base64) goes through HKDF-SHA256 with the header's random
 *   salt; anything else is a passphrase and goes through scrypt with that salt (parameters in the
 *   header). Public-key mode (`--encrypt-to`): a fresh ephemeral X25519 key pair per file, and
 *   HKDF-SHA256(X25519(ephemeral, recipient), salt, label ‖ ephemeral pub ‖ recipient pub); the
 *   header names the ephemeral public key and the recipient's fingerprint (sha256 of its SPKI DER).
 *   Every file gets its own AES key, so nonces never repeat under one key.
 * - Nonce: a random 4-byte prefix (per file) + the 8-byte big-endian chunk index.
 * - AAD of every chunk: "REPLAYENC1" · sha256(header line) · u64be chunk index · final flag byte.
 *   Reordering, dropping, duplicating chunks, editing the header or cutting the file fails the
 *   tag check; the last chunk carries the final flag and a stream that ends without it is an error.
 * - Plaintext is released only after its chunk's tag verified, so nothing unauthenticated ever
 *   reaches a parser; a truncated file fails at its end (readers fail, materialize rolls back).
 *
 * The plaintext is the capsule's bytes as the writer produced them: JSON text, or gzip when
 * compressed (compression happens BEFORE encryption; the opener detects gzip after decrypting).
 * Stages never read the environment: front doors call `capsuleKeyFromEnv(env, cwd)` and pass the key.
 */
import {
  createDecipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  hkdfSync,
  type KeyObject,
  scrypt,
  timingSafeEqual,
} from 'node:crypto';
import { createReadStream } from 'node:fs';
import { resolve } from 'node:path';
import { Duplex, pipeline, Readable, Transform, type TransformCallback } from 'node:stream';
import { createGunzip, type Gunzip } from 'node:zlib';
import { InputError } from '../errors.js';
import { readRegularTextFile } from '../util/input-file-kind.js';
import {
  type AgeDecryptKey,
  type AgeEncryptOptions,
  type AgeIdentityKey,
  type AgeRecipientsKey,
  ageFormatOf,
  createAgeDecryptStream,
  createAgeEncryptStream,
  parseAgeIdentities,
} from './age.js';
import { ENCRYPTED_MAGIC, type OpenOptions } from './open.js';

export const CAPSULE_KEY_ENV = 'REPLAY_CAPSULE_KEY';
/** A file holding the key (local use: the private key from `replay-env keygen`). */
export const CAPSULE_KEY_FILE_ENV = 'REPLAY_CAPSULE_KEY_FILE';
const FORMAT_NAME = 'replay-env-capsule';
const FORMAT_VERSION = 1;
export const DEFAULT_CHUNK_SIZE = 64 * 1024;
/** Upper bounds accepted from a (possibly hostile) header. */
const MAX_CHUNK_SIZE = 16 * 1024 * 1024;
const MAX_HEADER_LINE = 4096;
const SCRYPT_MAX = { N: 1 << 20, r: 32, p: 16 };
const MIN_PASSPHRASE = 12;
const SALT_BYTES = 16;
const NONCE_PREFIX_BYTES = 4;
const TAG_BYTES = 16;
const FINAL_BIT = 0x80000000;
const HKDF_INFO = Buffer.from('replay-env capsule encryption v1');
/** HKDF info of public-key mode: this label ‖ ephemeral public key ‖ recipient public key (raw, 32 bytes each). */
const X25519_INFO_LABEL = Buffer.from('replay-env capsule x25519 v1');
const X25519_KEY_BYTES = 32;

const DECRYPT_FAILED = 'cannot decrypt capsule: wrong key or corrupted file';

/**
 * Key material. Symmetric: as given in REPLAY_CAPSULE_KEY. Public-key mode: the recipient's public
 * key (export, `--encrypt-to`) or the private key (readers); `fingerprint` is the hex sha256 of the
 * public key's SPKI DER, `source` names where the key came from (for errors; never the key itself).
 */
export type CapsuleKey =
  /** 32 bytes (REPLAYENC1); for age files, `text` is used as the scrypt passphrase. */
  | { kind: 'raw'; key: Buffer; text: string; source: string }
  | { kind: 'passphrase'; passphrase: string; source: string }
  /** REPLAYENC1's public-key mode (read only). */
  | { kind: 'x25519-private'; privateKey: KeyObject; fingerprint: string; source: string }
  | AgeIdentityKey
  | AgeRecipientsKey;

type KdfHeader =
  | { name: 'hkdf-sha256'; salt: string }
  | { name: 'scrypt'; N: number; r: number; p: number; salt: string }
  | { name: 'x25519-hkdf-sha256'; ephemeralPublicKey: string; recipient: string; salt: string };

interface EncryptionHeader {
  format: typeof FORMAT_NAME;
  version: number;
  cipher: 'aes-256-gcm';
  kdf: KdfHeader;
  chunkSize: number;
}

/**
 * Interprets the key text: 64 hex chars or base64 of exactly 32 bytes is a raw key; anything else
 * of at least 12 characters is a passphrase. `source` names where it came from in errors.
 */
export function parseCapsuleKey(text: string, source = CAPSULE_KEY_ENV): CapsuleKey {
  // A PEM block: the X25519 private key of public-key mode (how a CI secret holding the key arrives).
  if (text.includes('-----BEGIN')) return parsePrivateKeyPem(text, source);
  // An age identity (file): `replay-env keygen`, `age-keygen`.
  if (text.includes('AGE-SECRET-KEY-')) return parseAgeIdentities(text, source);
  const t = text.trim();
  if (/^age1[a-z0-9]+$/.test(t))
    throw new InputError(
      `${source}: holds an age recipient (age1…, the public half); reading a capsule needs the identity (AGE-SECRET-KEY-1…, the file \`replay-env keygen\` wrote)`,
    );
  if (/^[0-9a-fA-F]{64}$/.test(t)) return { kind: 'raw', key: Buffer.from(t, 'hex'), text: t, source };
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(t)) {
    const key = Buffer.from(t.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (key.length === 32) return { kind: 'raw', key, text: t, source };
  }
  if (text.length < MIN_PASSPHRASE)
    throw new InputError(
      `${source}: expected an age identity (AGE-SECRET-KEY-1…, from \`replay-env keygen\`), a passphrase of at least ${MIN_PASSPHRASE} characters, or a 32-byte key (64 hex characters, e.g. \`openssl rand -hex 32\`)`,
    );
  return { kind: 'passphrase', passphrase: text, source };
}

/**
 * The key from the environment, or undefined when neither variable is set: REPLAY_CAPSULE_KEY holds
 * the key itself (a 32-byte key, a passphrase, or the whole PEM of an X25519 private key — how a CI
 * secret arrives); REPLAY_CAPSULE_KEY_FILE names a file holding it (relative to `cwd`).
 */
export function capsuleKeyFromEnv(
  env: Record<string, string | undefined>,
  cwd = process.cwd(),
): CapsuleKey | undefined {
  const v = env[CAPSULE_KEY_ENV];
  const file = env[CAPSULE_KEY_FILE_ENV];
  if (v && file)
    throw new InputError(
      `both ${CAPSULE_KEY_ENV} and ${CAPSULE_KEY_FILE_ENV} are set: give the key in exactly one of them (unset the other)`,
    );
  if (file) {
    const path = resolve(cwd, file);
    const source = `${CAPSULE_KEY_FILE_ENV} (${path})`;
    // A key file's trailing newline is not part of a passphrase.
    return parseCapsuleKey(readKeyFile(path, source).replace(/\r?\n$/, ''), source);
  }
  return v ? parseCapsuleKey(v) : undefined;
}

function readKeyFile(path: string, what: string): string {
  try {
    return readRegularTextFile(path, what, 'key');
  } catch (err) {
    if (err instanceof InputError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(
      code === 'ENOENT'
        ? `${what}: file not found`
        : code === 'EISDIR'
          ? `${what}: is a directory, expected a key file`
          : `${what}: cannot read the key file (${code ?? (err as Error).message})`,
    );
  }
}

// ---- public-key mode: PEM keys -------------------------------------------------------------------

const KEYGEN_HINT =
  '`replay-env keygen --out capsule.key`, or `openssl genpkey -algorithm X25519 -out capsule.key`';

/**
 * The one PEM block in `text` → its label and DER bytes. Tolerates what secret stores do to
 * multi-line values: CRLF, indentation, and literal `\n` escapes (the body is re-read without any
 * whitespace). Never echoes the text in errors: it may be a private key.
 */
function readPem(text: string, source: string): { label: string; der: Buffer } {
  const t = text.replace(/\\r|\\n/g, '\n');
  const m = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END ([A-Z0-9 ]+)-----/.exec(t);
  const body = m?.[2]?.replace(/\s+/g, '') ?? '';
  if (!m || m[1] !== m[3] || !/^[A-Za-z0-9+/]+={0,2}$/.test(body))
    throw new InputError(`${source}: not a PEM key (expected a "-----BEGIN … KEY-----" block)`);
  return { label: m[1]!, der: Buffer.from(body, 'base64') };
}

export function keyFingerprint(publicKey: KeyObject): string {
  return createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex');
}

function requireX25519(key: KeyObject, source: string, what: string): void {
  if (key.asymmetricKeyType !== 'x25519')
    throw new InputError(
      `${source}: is ${key.asymmetricKeyType ? `an ${key.asymmetricKeyType.toUpperCase()}` : 'an unknown'} ${what}; capsules need an X25519 key pair (${KEYGEN_HINT})`,
    );
}

/** The private key of public-key mode, from PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----"). */
function parsePrivateKeyPem(text: string, source = CAPSULE_KEY_ENV): CapsuleKey {
  const { label, der } = readPem(text, source);
  if (label === 'PUBLIC KEY')
    throw new InputError(
      `${source}: holds a PUBLIC key; reading a capsule needs the PRIVATE key (the file without .pub, e.g. capsule.key)`,
    );
  if (label === 'ENCRYPTED PRIVATE KEY')
    throw new InputError(
      `${source}: the private key is passphrase-protected; give it unencrypted (\`openssl pkey -in capsule.key -out plain.key\`) and keep it in the CI secret store`,
    );
  if (label !== 'PRIVATE KEY')
    throw new InputError(
      `${source}: found a "${label}" PEM block; expected an X25519 private key in PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----", from ${KEYGEN_HINT})`,
    );
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } catch {
    throw new InputError(`${source}: the PEM private key cannot be read (damaged or truncated PKCS#8)`);
  }
  requireX25519(privateKey, source, 'private key');
  return {
    kind: 'x25519-private',
    privateKey,
    fingerprint: keyFingerprint(createPublicKey(privateKey)),
    source,
  };
}

function rawPublicKey(key: KeyObject): Buffer {
  const x = key.export({ format: 'jwk' }).x;
  return Buffer.from(x ?? '', 'base64url');
}

function publicKeyFromRaw(raw: Buffer): KeyObject {
  return createPublicKey({
    key: { kty: 'OKP', crv: 'X25519', x: raw.toString('base64url') },
    format: 'jwk',
  });
}

/** The file key of public-key mode (the same derivation on both sides). */
function x25519FileKey(
  privateKey: KeyObject,
  peerPublicKey: KeyObject,
  ephemeralRaw: Buffer,
  recipientRaw: Buffer,
  salt: Buffer,
): Buffer {
  const shared = diffieHellman({ privateKey, publicKey: peerPublicKey });
  const info = Buffer.concat([X25519_INFO_LABEL, ephemeralRaw, recipientRaw]);
  return Buffer.from(hkdfSync('sha256', shared, salt, info, 32));
}

/** Open options for the readers: decryption when a key is given, none otherwise. */
export function capsuleOpenOptionsFor(key: CapsuleKey | undefined): OpenOptions {
  return key ? { decrypt: decryptingOpener(key) } : {};
}

function scryptAsync(pass: string, salt: Buffer, p: { N: number; r: number; p: number }): Promise<Buffer> {
  return new Promise((res, rej) =>
    scrypt(pass, salt, 32, { ...p, maxmem: 128 * p.N * p.r * p.p + (32 << 20) }, (err, k) =>
      err ? rej(err) : res(k),
    ),
  );
}

/** The key is of the other kind than the one the file was encrypted with. */
class KeyKindMismatch extends Error {}

/** Names the key given, for kind-mismatch errors. */
function describeKey(key: CapsuleKey): string {
  switch (key.kind) {
    case 'raw':
      return `${key.source} holds a 32-byte key`;
    case 'passphrase':
      return `${key.source} holds a passphrase`;
    case 'x25519-private':
      return `${key.source} holds an X25519 private key`;
    case 'age-identity':
      return `${key.source} holds an age identity (age identities read age capsules only)`;
    case 'age-recipients':
      return `${key.source} are age recipients, which cannot decrypt`;
  }
}

async function deriveFileKey(key: CapsuleKey, kdf: KdfHeader): Promise<Buffer> {
  const salt = Buffer.from(kdf.salt, 'base64');
  if (kdf.name === 'x25519-hkdf-sha256') {
    if (key.kind !== 'x25519-private')
      throw new KeyKindMismatch(
        `the capsule was encrypted to a public key (fingerprint ${kdf.recipient}), but ${describeKey(key)}: give the matching private key (PEM) in ${CAPSULE_KEY_ENV} or ${CAPSULE_KEY_FILE_ENV}`,
      );
    if (kdf.recipient !== key.fingerprint)
      throw new KeyKindMismatch(`encrypted to key ${kdf.recipient}, your key is ${key.fingerprint}`);
    const ephemeralRaw = Buffer.from(kdf.ephemeralPublicKey, 'base64');
    const recipientRaw = rawPublicKey(createPublicKey(key.privateKey));
    // Throws for a degenerate ephemeral key (all-zero shared secret): reported as a decrypt failure.
    return x25519FileKey(key.privateKey, publicKeyFromRaw(ephemeralRaw), ephemeralRaw, recipientRaw, salt);
  }
  if (key.kind === 'age-identity' || key.kind === 'age-recipients')
    throw new KeyKindMismatch(
      `the capsule is in the old REPLAYENC1 format (encrypted ${kdf.name === 'scrypt' ? 'with a passphrase' : 'with a 32-byte key'}), but ${describeKey(key)}: give the key it was encrypted with`,
    );
  if (key.kind === 'x25519-private')
    throw new KeyKindMismatch(
      `the capsule was encrypted with a ${kdf.name === 'scrypt' ? 'passphrase' : '32-byte key'} (symmetric mode), but ${describeKey(key)}: give that symmetric key in ${CAPSULE_KEY_ENV}`,
    );
  if (kdf.name === 'hkdf-sha256') {
    if (key.kind !== 'raw')
      throw new KeyKindMismatch(
        `the capsule was encrypted with a 32-byte key, but ${CAPSULE_KEY_ENV} holds a passphrase`,
      );
    return Buffer.from(hkdfSync('sha256', key.key, salt, HKDF_INFO, 32));
  }
  if (key.kind !== 'passphrase')
    throw new KeyKindMismatch(
      `the capsule was encrypted with a passphrase, but ${CAPSULE_KEY_ENV} holds a 32-byte key`,
    );
  return scryptAsync(key.passphrase, salt, kdf);
}

function chunkAad(headerHash: Buffer, index: bigint, final: boolean): Buffer {
  const aad = Buffer.alloc(10 + 32 + 8 + 1);
  aad.write('REPLAYENC1', 0, 'latin1');
  headerHash.copy(aad, 10);
  aad.writeBigUInt64BE(index, 42);
  aad[50] = final ? 1 : 0;
  return aad;
}

export type EncryptOptions = AgeEncryptOptions;

/**
 * Plaintext in, an age file out: to the recipients of `--encrypt-to`, or with the passphrase (or
 * 32-byte key, used as a passphrase) of `--encrypt` through age's scrypt. Identities do not encrypt.
 */
export function createEncryptStream(key: CapsuleKey, options: EncryptOptions = {}): Duplex {
  switch (key.kind) {
    case 'age-recipients':
      return createAgeEncryptStream(key, options);
    case 'passphrase':
      return createAgeEncryptStream(key, options);
    case 'raw':
      return createAgeEncryptStream({ passphrase: key.text, source: key.source }, options);
    default:
      throw new InputError(
        `${key.source}: encrypting needs age recipients (--encrypt-to age1…) or a passphrase (--encrypt), not ${describeKey(key)}`,
      );
  }
}

/** The key as age uses it to decrypt, or a refusal naming what the key is. */
function ageDecryptKey(key: CapsuleKey, label: string): AgeDecryptKey {
  if (key.kind === 'age-identity') return key;
  if (key.kind === 'passphrase') return key;
  if (key.kind === 'raw') return { passphrase: key.text, source: key.source };
  throw new InputError(
    `${label}: cannot decrypt capsule: it is an age file, but ${describeKey(key)} (REPLAYENC1 keys read only old capsules): give the age identity (AGE-SECRET-KEY-1…) or passphrase it was encrypted with`,
  );
}

/**
 * Encrypted capsule bytes in, plaintext out: an age file (binary or armored) or a REPLAYENC1 file,
 * told apart by their first bytes; each chunk is released only after it authenticated. This is the
 * stream-level interface readers use (`decryptingOpener` wraps it with the file and gunzip).
 */
export function createDecryptStream(key: CapsuleKey, label = 'capsule'): Duplex {
  return Duplex.from(async function* (source: AsyncIterable<Buffer>) {
    const it = source[Symbol.asyncIterator]();
    let head = Buffer.alloc(0);
    while (head.length < 256) {
      const n = await it.next();
      if (n.done) break;
      head = Buffer.concat([head, n.value]);
    }
    const rest = (async function* () {
      if (head.length) yield head;
      for (let n = await it.next(); !n.done; n = await it.next()) yield n.value;
    })();
    const inner =
      ageFormatOf(head) !== null
        ? createAgeDecryptStream(ageDecryptKey(key, label), label)
        : new DecryptStream(key, label);
    yield* Readable.from(rest).pipe(inner);
  });
}

class DecryptStream extends Transform {
  private buf: Buffer = Buffer.alloc(0);
  private state: 'magic' | 'header' | 'chunks' | 'done' = 'magic';
  private fileKey: Buffer | null = null;
  private headerHash: Buffer | null = null;
  private chunkSize = 0;
  private prefix: Buffer | null = null;
  private index = 0n;

  constructor(
    private readonly key: CapsuleKey,
    private readonly label: string,
  ) {
    super();
  }

  private fail(detail?: string): InputError {
    return new InputError(`${this.label}: ${DECRYPT_FAILED}${detail ? ` (${detail})` : ''}`);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    this.process().then(() => cb(), cb);
  }

  override _flush(cb: TransformCallback): void {
    this.process().then(() => {
      if (this.state === 'done') return cb();
      cb(this.fail(this.state === 'chunks' ? 'truncated: the final chunk is missing' : 'truncated header'));
    }, cb);
  }

  private async process(): Promise<void> {
    if (this.state === 'magic') {
      if (this.buf.length < ENCRYPTED_MAGIC.length) return;
      if (!this.buf.subarray(0, ENCRYPTED_MAGIC.length).equals(ENCRYPTED_MAGIC))
        throw new InputError(`${this.label}: not an encrypted capsule (no REPLAYENC1 header)`);
      this.buf = this.buf.subarray(ENCRYPTED_MAGIC.length);
      this.state = 'header';
    }
    if (this.state === 'header') {
      const nl = this.buf.indexOf(10);
      if (nl < 0) {
        if (this.buf.length > MAX_HEADER_LINE) throw this.fail('header line too long');
        return;
      }
      const line = this.buf.subarray(0, nl + 1);
      const header = this.parseHeader(line.toString('utf8', 0, nl));
      this.headerHash = createHash('sha256').update(line).digest();
      this.chunkSize = header.chunkSize;
      try {
        this.fileKey = await deriveFileKey(this.key, header.kdf);
      } catch (err) {
        throw this.fail(
          err instanceof KeyKindMismatch ? err.message : `key derivation failed: ${(err as Error).message}`,
        );
      }
      this.buf = this.buf.subarray(nl + 1);
      this.state = 'chunks';
    }
    while (this.state === 'chunks' && this.buf.length >= 4) {
      const word = this.buf.readUInt32BE(0);
      const final = (word & FINAL_BIT) !== 0;
      const len = word & ~FINAL_BIT;
      if (len > this.chunkSize) throw this.fail(`chunk ${this.index} is larger than the chunk size`);
      const total = 4 + 12 + len + TAG_BYTES;
      if (this.buf.length < total) return;
      const nonce = this.buf.subarray(4, 16);
      // The counter half of the nonce must be this chunk's index and the prefix constant.
      if (nonce.readBigUInt64BE(NONCE_PREFIX_BYTES) !== this.index) throw this.fail('chunks out of order');
      const prefix = nonce.subarray(0, NONCE_PREFIX_BYTES);
      if (this.prefix === null) this.prefix = Buffer.from(prefix);
      else if (!timingSafeEqual(this.prefix, prefix)) throw this.fail('chunk from another file');
      const decipher = createDecipheriv('aes-256-gcm', this.fileKey!, nonce);
      decipher.setAAD(chunkAad(this.headerHash!, this.index, final));
      decipher.setAuthTag(this.buf.subarray(16 + len, total));
      let plain: Buffer;
      try {
        plain = Buffer.concat([decipher.update(this.buf.subarray(16, 16 + len)), decipher.final()]);
      } catch {
        throw this.fail();
      }
      this.buf = this.buf.subarray(total);
      this.index++;
      if (plain.length) this.push(plain);
      if (final) this.state = 'done';
    }
    if (this.state === 'done' && this.buf.length > 0) throw this.fail('data after the final chunk');
  }

  private parseHeader(text: string): EncryptionHeader {
    let h: Partial<EncryptionHeader> & { kdf?: Partial<KdfHeader> & Record<string, unknown> };
    try {
      h = JSON.parse(text);
    } catch {
      throw this.fail('unreadable header');
    }
    if (h?.format !== FORMAT_NAME) throw this.fail('unknown header');
    if (h.version !== FORMAT_VERSION)
      throw new InputError(
        // Checked before anything is authenticated, so it may equally be a damaged byte.
        `${this.label}: cannot decrypt capsule: format version ${String(h.version)} is not supported by this replay-env (supports ${FORMAT_VERSION}); upgrade replay-env if a newer one wrote it, else the file is corrupted`,
      );
    if (h.cipher !== 'aes-256-gcm') throw this.fail(`unsupported cipher ${String(h.cipher)}`);
    const cs = h.chunkSize;
    if (!Number.isInteger(cs) || (cs as number) < 1 || (cs as number) > MAX_CHUNK_SIZE)
      throw this.fail('bad chunk size');
    const kdf = h.kdf;
    if (!kdf || typeof kdf.salt !== 'string' || Buffer.from(kdf.salt, 'base64').length < SALT_BYTES)
      throw this.fail('bad key derivation header');
    if (kdf.name === 'scrypt') {
      const { N, r, p } = kdf as { N: number; r: number; p: number };
      const ok =
        Number.isInteger(N) &&
        N > 1 &&
        N <= SCRYPT_MAX.N &&
        (N & (N - 1)) === 0 &&
        Number.isInteger(r) &&
        r >= 1 &&
        r <= SCRYPT_MAX.r &&
        Number.isInteger(p) &&
        p >= 1 &&
        p <= SCRYPT_MAX.p;
      if (!ok) throw this.fail('scrypt parameters out of range');
    } else if (kdf.name === 'x25519-hkdf-sha256') {
      const { ephemeralPublicKey: eph, recipient } = kdf as {
        ephemeralPublicKey?: unknown;
        recipient?: unknown;
      };
      if (
        typeof eph !== 'string' ||
        Buffer.from(eph, 'base64').length !== X25519_KEY_BYTES ||
        typeof recipient !== 'string' ||
        !/^[0-9a-f]{64}$/.test(recipient)
      )
        throw this.fail('bad public-key header');
    } else if (kdf.name !== 'hkdf-sha256')
      throw this.fail(`unknown key derivation ${String((kdf as { name?: unknown }).name)}`);
    return h as EncryptionHeader;
  }
}

const GZIP_MAGIC = [0x1f, 0x8b];

/**
 * Passes bytes through, or gunzips them when they start with the gzip magic (compressed capsules
 * are encrypted after compression, so the magic is only visible after decrypting).
 */
class GunzipIfCompressed extends Transform {
  private head: Buffer | null = Buffer.alloc(0);
  private gunzip: Gunzip | null = null;
  private gzError: Error | null = null;
  /** The transform/flush callback waiting for gunzip (errors are delivered through it). */
  private waiting: TransformCallback | null = null;

  constructor(private readonly label: string) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.head === null) {
      this.forward(chunk, cb);
      return;
    }
    this.head = Buffer.concat([this.head, chunk]);
    if (this.head.length < 2) {
      cb();
      return;
    }
    const data = this.head;
    this.head = null;
    if (data[0] === GZIP_MAGIC[0] && data[1] === GZIP_MAGIC[1]) this.startGunzip();
    this.forward(data, cb);
  }

  private startGunzip(): void {
    const gz = createGunzip();
    this.gunzip = gz;
    gz.on('data', (d: Buffer) => {
      if (!this.push(d)) gz.pause();
    });
    gz.on('error', (e) => {
      this.gzError = new InputError(
        `${this.label}: corrupt gzip inside the encrypted capsule (${e.message})`,
      );
      this.settle(this.gzError);
    });
  }

  private settle(err?: Error | null): void {
    const cb = this.waiting;
    this.waiting = null;
    cb?.(err);
  }

  override _read(size: number): void {
    this.gunzip?.resume(); // the consumer wants more: let gunzip produce again
    super._read(size);
  }

  private forward(data: Buffer, cb: TransformCallback): void {
    if (!this.gunzip) {
      cb(null, data);
      return;
    }
    if (this.gzError) {
      cb(this.gzError);
      return;
    }
    this.waiting = cb;
    // The write callback fires once gunzip consumed the data (it waits while its output is paused).
    this.gunzip.write(data, (err) => {
      if (!err) this.settle();
    });
  }

  override _flush(cb: TransformCallback): void {
    if (this.head?.length) this.push(this.head);
    if (!this.gunzip) {
      cb();
      return;
    }
    if (this.gzError) {
      cb(this.gzError);
      return;
    }
    this.waiting = cb;
    this.gunzip.once('end', () => this.settle());
    this.gunzip.end();
  }
}

/** `OpenOptions.decrypt`: file → decrypt → gunzip when compressed; errors name the file. */
export function decryptingOpener(key: CapsuleKey): (path: string) => Readable {
  return (path: string) => {
    const file = createReadStream(path, { highWaterMark: 1 << 20 });
    const out = new GunzipIfCompressed(path);
    // pipeline destroys every stage when one fails or the consumer destroys the last one.
    pipeline(file, createDecryptStream(key, path), out, () => {});
    return out;
  };
}
