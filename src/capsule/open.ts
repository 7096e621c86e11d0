/**
 * Opening a capsule file as a byte stream: plain JSON, gzip (detected by its magic bytes, not
 * the file name) or encrypted (detected by our header; `decrypt` from capsule/encryption.ts's
 * `decryptingOpener` decrypts, and gunzips when the plaintext is gzip).
 */
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { PassThrough, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { InputError } from '../errors.js';
import { requireRegularFile } from '../util/input-file-kind.js';
import { AGE_ARMOR_BEGIN, ageFormatOf, ageStanzaTypes, describeAgeStanzas } from './age.js';

export const ENCRYPTED_MAGIC = Buffer.from('REPLAYENC1\n');

export type CapsuleEncoding = 'json' | 'gzip' | 'encrypted';

export async function detectEncoding(path: string): Promise<CapsuleEncoding> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    // A capsule is read more than once and by position: a device, pipe or directory cannot be
    // (and opening a FIFO nobody writes to would block): refused before opening.
    requireRegularFile(path, await stat(path), 'capsule');
    fh = await open(path, 'r');
  } catch (err) {
    if (err instanceof InputError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(
      code === 'ENOENT'
        ? `${path}: capsule not found`
        : `${path}: cannot read capsule (${(err as Error).message})`,
    );
  }
  try {
    const head = Buffer.alloc(256);
    const { bytesRead: headBytes } = await fh.read(head, 0, head.length, 0);
    // age, binary or armored (capsule/age.ts).
    if (ageFormatOf(head.subarray(0, headBytes)) !== null) return 'encrypted';
    const buf = head.subarray(0, Math.min(headBytes, ENCRYPTED_MAGIC.length));
    const bytesRead = buf.length;
    if (bytesRead >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) return 'gzip';
    if (bytesRead === ENCRYPTED_MAGIC.length && buf.equals(ENCRYPTED_MAGIC)) return 'encrypted';
    // One changed byte in the magic would otherwise read as (invalid) JSON: say what it is.
    if (bytesRead === ENCRYPTED_MAGIC.length) {
      const differing = [...buf].flatMap((b, i) => (b === ENCRYPTED_MAGIC[i] ? [] : [i]));
      if (differing.length === 1)
        throw new InputError(
          `${path}: damaged encrypted capsule: its header is not "REPLAYENC1" (byte ${differing[0]} changed); the file was modified or corrupted`,
        );
    }
    return 'json';
  } finally {
    await fh.close();
  }
}

export interface OpenOptions {
  /** Decrypts an encrypted capsule; supplied by the front door (key from the environment). */
  decrypt?: (path: string) => Readable;
}

/** A stream of the capsule's JSON text (decompressed/decrypted). */
export async function openCapsuleText(path: string, options: OpenOptions = {}): Promise<Readable> {
  const encoding = await detectEncoding(path);
  if (encoding === 'encrypted') {
    if (!options.decrypt) {
      const kind = await encryptionKind(path);
      throw new InputError(
        `${path}: capsule is encrypted${kind ? ` ${kind}` : ''}; set REPLAY_CAPSULE_KEY (or REPLAY_CAPSULE_KEY_FILE) to the age identity or passphrase it was encrypted with (in the GitHub Action: the capsule-key input)`,
      );
    }
    const inner = options.decrypt(path);
    return inner;
  }
  const file = createReadStream(path, { highWaterMark: 1 << 20 });
  if (encoding === 'gzip') {
    // Every reader (the tokenizer, the materialize index and row streams) sees a corrupt or
    // truncated gzip as one InputError naming the file, not zlib's bare "unexpected end of file".
    const gunzip = createGunzip();
    const out = new PassThrough({ highWaterMark: 1 << 20 });
    file.on('error', (e) => out.destroy(e));
    gunzip.on('error', (e) => out.destroy(new InputError(`${path}: corrupt gzip capsule (${e.message})`)));
    out.on('close', () => {
      file.destroy();
      gunzip.destroy();
    });
    return file.pipe(gunzip).pipe(out);
  }
  return file;
}

/**
 * What the (unauthenticated, public) header says about the key, for the "no key" message:
 * `to public key <fingerprint>`, `with a 32-byte key` or `with a passphrase`; null when unreadable.
 * Fingerprints of public keys are not secret; nothing here is trusted beyond this message.
 */
async function encryptionKind(path: string): Promise<string | null> {
  try {
    const fh = await open(path, 'r');
    try {
      const buf = Buffer.alloc(4096);
      const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
      const age = ageFormatOf(buf.subarray(0, bytesRead));
      if (age === 'binary') return describeAgeStanzas(ageStanzaTypes(buf.subarray(0, bytesRead)));
      if (age === 'armored') return `(armored age, "${AGE_ARMOR_BEGIN}")`;
      const text = buf.subarray(ENCRYPTED_MAGIC.length, bytesRead).toString('utf8');
      const nl = text.indexOf('\n');
      if (nl < 0) return null;
      const kdf = (JSON.parse(text.slice(0, nl)) as { kdf?: { name?: unknown; recipient?: unknown } }).kdf;
      if (
        kdf?.name === 'x25519-hkdf-sha256' &&
        typeof kdf.recipient === 'string' &&
        /^[0-9a-f]{64}$/.test(kdf.recipient)
      )
        return `to public key ${kdf.recipient}`;
      if (kdf?.name === 'hkdf-sha256') return 'with a 32-byte key';
      if (kdf?.name === 'scrypt') return 'with a passphrase';
      return null;
    } finally {
      await fh.close();
    }
  } catch {
    return null;
  }
}
