/**
 * Opening a capsule file as a byte stream: plain JSON, gzip (detected by its magic bytes, not
 * the file name) or encrypted (detected by our header; `decrypt` from capsule/encryption.ts's
 * `decryptingOpener` decrypts, and gunzips when the plaintext is gzip).
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { PassThrough, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { InputError } from '../errors.js';

export const ENCRYPTED_MAGIC = Buffer.from('REPLAYENC1\n');

export type CapsuleEncoding = 'json' | 'gzip' | 'encrypted';

export async function detectEncoding(path: string): Promise<CapsuleEncoding> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(
      code === 'ENOENT'
        ? `${path}: capsule not found`
        : `${path}: cannot read capsule (${(err as Error).message})`,
    );
  }
  try {
    const buf = Buffer.alloc(ENCRYPTED_MAGIC.length);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    if (bytesRead >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) return 'gzip';
    if (bytesRead === ENCRYPTED_MAGIC.length && buf.equals(ENCRYPTED_MAGIC)) return 'encrypted';
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
      throw new InputError(
        `${path}: capsule is encrypted; set REPLAY_CAPSULE_KEY to the key it was encrypted with (in the GitHub Action: the capsule-key input)`,
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
