/**
 * Test-only: the REPLAYENC1 writer of replay-env ≤ 0.4 (src/capsule/encryption.ts before age),
 * kept to produce old-format capsules for the read-only legacy path's tests. Nothing in src/
 * writes REPLAYENC1 any more.
 */
import {
  createCipheriv,
  createHash,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
  randomBytes,
  scrypt,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { keyFingerprint } from '../../src/capsule/encryption.js';
import { ENCRYPTED_MAGIC } from '../../src/capsule/open.js';
import { InputError } from '../../src/errors.js';

/** Legacy key material (as the old parseCapsuleKey / parsePublicKeyPem returned it). */
export type LegacyKey =
  | { kind: 'raw'; key: Buffer }
  | { kind: 'passphrase'; passphrase: string }
  | { kind: 'x25519-public'; publicKey: KeyObject; fingerprint: string; source: string }
  | { kind: 'x25519-private'; privateKey: KeyObject; fingerprint: string; source: string };
type CapsuleKey = LegacyKey;

const KEYGEN_HINT = 'openssl genpkey -algorithm X25519';
const FORMAT_NAME = 'replay-env-capsule';
const FORMAT_VERSION = 1;
const DEFAULT_CHUNK_SIZE = 64 * 1024;
const MAX_CHUNK_SIZE = 16 * 1024 * 1024;
const SCRYPT_PARAMS = { N: 1 << 15, r: 8, p: 1 } as const;
const SALT_BYTES = 16;
const NONCE_PREFIX_BYTES = 4;
const FINAL_BIT = 0x80000000;
const HKDF_INFO = Buffer.from('replay-env capsule encryption v1');
const X25519_INFO_LABEL = Buffer.from('replay-env capsule x25519 v1');

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

/** The symmetric key a REPLAYENC1 writer was given (64 hex / base64 of 32 bytes, else a passphrase). */
export function legacyKey(text: string): LegacyKey {
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) return { kind: 'raw', key: Buffer.from(t, 'hex') };
  return { kind: 'passphrase', passphrase: text };
}

async function deriveFileKey(key: CapsuleKey, kdf: KdfHeader): Promise<Buffer> {
  const salt = Buffer.from(kdf.salt, 'base64');
  if (kdf.name === 'hkdf-sha256' && key.kind === 'raw')
    return Buffer.from(hkdfSync('sha256', key.key, salt, HKDF_INFO, 32));
  if (kdf.name === 'scrypt' && key.kind === 'passphrase') return scryptAsync(key.passphrase, salt, kdf);
  throw new Error('legacy writer: unsupported key');
}

function scryptAsync(pass: string, salt: Buffer, p: { N: number; r: number; p: number }): Promise<Buffer> {
  return new Promise((res, rej) =>
    scrypt(pass, salt, 32, { ...p, maxmem: 128 * p.N * p.r * p.p + (32 << 20) }, (err, k) =>
      err ? rej(err) : res(k),
    ),
  );
}

function rawPublicKey(key: KeyObject): Buffer {
  const x = key.export({ format: 'jwk' }).x;
  return Buffer.from(x ?? '', 'base64url');
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

function chunkAad(headerHash: Buffer, index: bigint, final: boolean): Buffer {
  const aad = Buffer.alloc(10 + 32 + 8 + 1);
  aad.write('REPLAYENC1', 0, 'latin1');
  headerHash.copy(aad, 10);
  aad.writeBigUInt64BE(index, 42);
  aad[50] = final ? 1 : 0;
  return aad;
}

/** The recipient of `--encrypt-to`: an X25519 public key in SPKI PEM ("-----BEGIN PUBLIC KEY-----"). */
export function parsePublicKeyPem(text: string, source: string): CapsuleKey {
  const { label, der } = readPem(text, source);
  if (label === 'PRIVATE KEY' || label.endsWith(' PRIVATE KEY'))
    throw new InputError(
      `${source}: is a PRIVATE key; --encrypt-to takes the public key: give the .pub file (e.g. capsule.key.pub), and keep the private key out of the export machine`,
    );
  if (label !== 'PUBLIC KEY')
    throw new InputError(
      `${source}: found a "${label}" PEM block; expected an X25519 public key ("-----BEGIN PUBLIC KEY-----", the .pub file of ${KEYGEN_HINT})`,
    );
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: der, format: 'der', type: 'spki' });
  } catch {
    throw new InputError(`${source}: the PEM public key cannot be read (damaged or truncated SPKI)`);
  }
  requireX25519(publicKey, source, 'public key');
  return { kind: 'x25519-public', publicKey, fingerprint: keyFingerprint(publicKey), source };
}

/** `--encrypt-to <file>`: the recipient's public key from a PEM file (path relative to `cwd`). */
export function readRecipientKey(file: string, cwd: string): CapsuleKey {
  const path = resolve(cwd, file);
  return parsePublicKeyPem(readKeyFile(path, `--encrypt-to ${file}`), `--encrypt-to ${file}`);
}

/** A fresh X25519 key pair as PEM (PKCS#8 private, SPKI public) and the public key's fingerprint. */
export function generateCapsuleKeyPair(): { privatePem: string; publicPem: string; fingerprint: string } {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }) as string,
    fingerprint: keyFingerprint(publicKey),
  };
}

export interface EncryptOptions {
  chunkSize?: number;
  /** scrypt parameters for passphrases (tests lower N to stay fast). */
  scrypt?: { N: number; r: number; p: number };
}

/** Plaintext in, encrypted capsule bytes out. */
export function createLegacyEncryptStream(key: CapsuleKey, options: EncryptOptions = {}): Transform {
  return new EncryptStream(key, options);
}

class EncryptStream extends Transform {
  private readonly chunkSize: number;
  private readonly key: CapsuleKey;
  private readonly scryptParams: { N: number; r: number; p: number };
  private ready: Promise<{ fileKey: Buffer; headerHash: Buffer }> | null = null;
  private readonly prefix = randomBytes(NONCE_PREFIX_BYTES);
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private index = 0n;

  constructor(key: CapsuleKey, options: EncryptOptions) {
    super();
    this.key = key;
    this.chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    if (!Number.isInteger(this.chunkSize) || this.chunkSize < 1 || this.chunkSize > MAX_CHUNK_SIZE)
      throw new RangeError(`chunk size must be 1..${MAX_CHUNK_SIZE}`);
    this.scryptParams = options.scrypt ?? SCRYPT_PARAMS;
  }

  /** Writes the magic and header once; derives the per-file key. */
  private start(): Promise<{ fileKey: Buffer; headerHash: Buffer }> {
    this.ready ??= (async () => {
      const saltBytes = randomBytes(SALT_BYTES);
      const salt = saltBytes.toString('base64');
      let kdf: KdfHeader;
      let x25519Key: Buffer | undefined;
      if (this.key.kind === 'x25519-public' || this.key.kind === 'x25519-private') {
        // Public-key mode: a fresh ephemeral key pair for this file only (its private half is dropped).
        const recipient =
          this.key.kind === 'x25519-public' ? this.key.publicKey : createPublicKey(this.key.privateKey);
        const ephemeral = generateKeyPairSync('x25519');
        const ephemeralRaw = rawPublicKey(ephemeral.publicKey);
        x25519Key = x25519FileKey(
          ephemeral.privateKey,
          recipient,
          ephemeralRaw,
          rawPublicKey(recipient),
          saltBytes,
        );
        kdf = {
          name: 'x25519-hkdf-sha256',
          ephemeralPublicKey: ephemeralRaw.toString('base64'),
          recipient: this.key.fingerprint,
          salt,
        };
      } else if (this.key.kind === 'raw') kdf = { name: 'hkdf-sha256', salt };
      else kdf = { name: 'scrypt', ...this.scryptParams, salt };
      const header: EncryptionHeader = {
        format: FORMAT_NAME,
        version: FORMAT_VERSION,
        cipher: 'aes-256-gcm',
        kdf,
        chunkSize: this.chunkSize,
      };
      const line = Buffer.from(`${JSON.stringify(header)}\n`);
      const fileKey = x25519Key ?? (await deriveFileKey(this.key, kdf));
      this.push(Buffer.concat([ENCRYPTED_MAGIC, line]));
      return { fileKey, headerHash: createHash('sha256').update(line).digest() };
    })();
    return this.ready;
  }

  private seal(fileKey: Buffer, headerHash: Buffer, plain: Buffer, final: boolean): Buffer {
    const nonce = Buffer.alloc(12);
    this.prefix.copy(nonce, 0);
    nonce.writeBigUInt64BE(this.index, NONCE_PREFIX_BYTES);
    const cipher = createCipheriv('aes-256-gcm', fileKey, nonce);
    cipher.setAAD(chunkAad(headerHash, this.index, final));
    const ct = Buffer.concat([cipher.update(plain), cipher.final()]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE((ct.length | (final ? FINAL_BIT : 0)) >>> 0);
    this.index++;
    return Buffer.concat([len, nonce, ct, cipher.getAuthTag()]);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.start().then(({ fileKey, headerHash }) => {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      if (this.pendingBytes >= this.chunkSize) {
        let all = Buffer.concat(this.pending);
        // Full chunks go out now; the final chunk (sealed in _flush) may be empty.
        while (all.length >= this.chunkSize) {
          this.push(this.seal(fileKey, headerHash, all.subarray(0, this.chunkSize), false));
          all = all.subarray(this.chunkSize);
        }
        this.pending = all.length ? [Buffer.from(all)] : [];
        this.pendingBytes = all.length;
      }
      cb();
    }, cb);
  }

  override _flush(cb: TransformCallback): void {
    this.start().then(({ fileKey, headerHash }) => {
      this.push(this.seal(fileKey, headerHash, Buffer.concat(this.pending), true));
      this.pending = [];
      cb();
    }, cb);
  }
}

function readKeyFile(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    throw new InputError(`${what}: file not found`);
  }
}

function readPem(text: string, source: string): { label: string; der: Buffer } {
  const m = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END ([A-Z0-9 ]+)-----/.exec(text);
  if (!m) throw new InputError(`${source}: not a PEM key`);
  return { label: m[1]!, der: Buffer.from(m[2]!.replace(/\s+/g, ''), 'base64') };
}

function requireX25519(key: KeyObject, source: string, what: string): void {
  if (key.asymmetricKeyType !== 'x25519') throw new InputError(`${source}: not an X25519 ${what}`);
}
