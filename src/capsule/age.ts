/**
 * Capsules encrypted in the age format (https://age-encryption.org/v1, docs/encryption.md), through
 * `age-encryption` (TypeScript age by age's author). Encrypt and decrypt are stream transforms
 * (Duplex: ciphertext bytes in, plaintext out, and back): age's payload is STREAM with 64 KiB
 * chunks, each authenticated before its plaintext is released, so memory stays bounded whatever
 * the capsule's size. Both the binary form and the ASCII-armored form ("-----BEGIN AGE ENCRYPTED
 * FILE-----") are read; the armor is decoded line by line, also streaming.
 *
 * The library is imported when a capsule is actually encrypted or decrypted, not at start-up.
 * Error messages name the file and what was wrong (no key, a key for other recipients, a wrong
 * passphrase, a damaged or truncated file), never the key itself; age headers do not name their
 * recipients, so "another recipient" is reported with the recipient of the key that was given.
 */
import { Duplex } from 'node:stream';
import { InputError } from '../errors.js';

export const AGE_MAGIC = Buffer.from('age-encryption.org/v1\n');
export const AGE_ARMOR_BEGIN = '-----BEGIN AGE ENCRYPTED FILE-----';
const AGE_ARMOR_END = '-----END AGE ENCRYPTED FILE-----';
/** age's default scrypt work factor (log2 N), the one `age -p` uses. */
const AGE_SCRYPT_WORK_FACTOR = 18;
/** How far into a file the header is looked for (age headers of a few recipients are < 1 KiB). */
const MAX_HEADER_BYTES = 64 * 1024;

/** age identities (AGE-SECRET-KEY-1…) to decrypt with; `source` names where they came from. */
export interface AgeIdentityKey {
  kind: 'age-identity';
  identities: string[];
  source: string;
}
/** age recipients (age1…) to encrypt to. */
export interface AgeRecipientsKey {
  kind: 'age-recipients';
  recipients: string[];
  source: string;
}
/** A passphrase: age's scrypt recipient when encrypting, its scrypt identity when decrypting. */
export interface AgePassphrase {
  passphrase: string;
  source: string;
}

const IDENTITY_RE = /^AGE-SECRET-KEY-1[02-9AC-HJ-NP-Z]{58}$/;
const RECIPIENT_RE = /^age1[02-9ac-hj-np-z]{58}$/;

/** The file's format from its first bytes: age binary, age armored, or neither. */
export function ageFormatOf(head: Buffer): 'binary' | 'armored' | null {
  if (head.length >= AGE_MAGIC.length && head.subarray(0, AGE_MAGIC.length).equals(AGE_MAGIC))
    return 'binary';
  if (head.toString('latin1').trimStart().startsWith(AGE_ARMOR_BEGIN)) return 'armored';
  return null;
}

/**
 * An age identity file's text (as written by `replay-env keygen` or `age-keygen`): one
 * AGE-SECRET-KEY-1… per line, `#` comments and blank lines ignored. Never echoes the text.
 */
export function parseAgeIdentities(text: string, source: string): AgeIdentityKey {
  const identities: string[] = [];
  text
    .replace(/\\r|\\n/g, '\n')
    .split(/\r?\n/)
    .forEach((raw, i) => {
      const line = raw.trim();
      if (!line || line.startsWith('#')) return;
      if (!IDENTITY_RE.test(line))
        throw new InputError(
          `${source}: line ${i + 1} is not an age identity (expected AGE-SECRET-KEY-1 followed by 58 characters, as written by \`replay-env keygen\` or \`age-keygen\`)`,
        );
      identities.push(line);
    });
  if (identities.length === 0) throw new InputError(`${source}: holds no age identity (AGE-SECRET-KEY-1…)`);
  return { kind: 'age-identity', identities, source };
}

/**
 * `--encrypt-to` values: each an age recipient (age1…) or a recipients file (one age1… per line,
 * `#` comments and blank lines ignored, as `age -R` reads); `read` returns a file's text.
 */
export function parseAgeRecipients(values: string[], read: (file: string) => string): AgeRecipientsKey {
  const recipients: string[] = [];
  for (const value of values) {
    if (value.startsWith('age1')) {
      recipients.push(checkRecipient(value, `--encrypt-to ${value}`));
      continue;
    }
    if (value.startsWith('AGE-SECRET-KEY-'))
      throw new InputError(
        '--encrypt-to: that is an age identity (a private key); give its recipient (age1…, printed by `replay-env keygen`) and keep the identity off the export machine',
      );
    const text = read(value);
    if (text.includes('-----BEGIN'))
      throw new InputError(
        `--encrypt-to ${value}: is a PEM key (the old REPLAYENC1 public-key mode, which no longer encrypts); make an age key with \`replay-env keygen --out capsule.key\` and give its recipient (age1…)`,
      );
    const before = recipients.length;
    text.split(/\r?\n/).forEach((raw, i) => {
      const line = raw.trim();
      if (line && !line.startsWith('#'))
        recipients.push(checkRecipient(line, `--encrypt-to ${value}: line ${i + 1}`));
    });
    if (recipients.length === before)
      throw new InputError(`--encrypt-to ${value}: the recipients file holds no age recipient (age1…)`);
  }
  return { kind: 'age-recipients', recipients, source: '--encrypt-to' };
}

function checkRecipient(text: string, where: string): string {
  if (text.startsWith('ssh-'))
    throw new InputError(`${where}: SSH recipients are not supported; give an age recipient (age1…)`);
  if (!RECIPIENT_RE.test(text))
    throw new InputError(
      `${where}: not an age X25519 recipient (expected age1 followed by 58 characters, e.g. printed by \`replay-env keygen\` or \`age-keygen -y\`)`,
    );
  return text;
}

/** A fresh identity and its recipient. */
export async function generateAgeIdentity(): Promise<{ identity: string; recipient: string }> {
  const age = await import('age-encryption');
  const identity = await age.generateX25519Identity();
  return { identity, recipient: await age.identityToRecipient(identity) };
}

// ---- encrypt -----------------------------------------------------------------------------------

export interface AgeEncryptOptions {
  /** scrypt work factor (log2 N) for passphrases; tests lower it to stay fast. */
  scryptWorkFactor?: number;
}

/** Plaintext in, age ciphertext (binary) out. */
export function createAgeEncryptStream(
  key: AgeRecipientsKey | AgePassphrase,
  options: AgeEncryptOptions = {},
): Duplex {
  return Duplex.from(async function* (source: AsyncIterable<Buffer>) {
    const age = await import('age-encryption');
    const encrypter = new age.Encrypter();
    if ('recipients' in key) for (const r of key.recipients) encrypter.addRecipient(r);
    else {
      encrypter.setScryptWorkFactor(options.scryptWorkFactor ?? AGE_SCRYPT_WORK_FACTOR);
      encrypter.setPassphrase(key.passphrase);
    }
    const out = await encrypter.encrypt(ReadableStream.from(bytesOf(source)) as ReadableStream<Uint8Array>);
    for await (const chunk of out as unknown as AsyncIterable<Uint8Array>) yield asBuffer(chunk);
  });
}

/** The writer may write strings (JSON text): age takes bytes. */
async function* bytesOf(source: AsyncIterable<Buffer | string>): AsyncGenerator<Buffer> {
  for await (const c of source) yield typeof c === 'string' ? Buffer.from(c) : c;
}

function asBuffer(u: Uint8Array): Buffer {
  return Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

// ---- decrypt -----------------------------------------------------------------------------------

/** An async iterator of byte chunks that can be peeked into (bytes read ahead are given back). */
class ByteSource {
  private head: Buffer[] = [];
  constructor(private readonly it: AsyncIterator<Buffer>) {}

  /** At least `n` bytes from the start (fewer at the end of input), or until `enough` says so. */
  async peek(n: number, enough: (b: Buffer) => boolean = () => false): Promise<Buffer> {
    let buf = Buffer.concat(this.head);
    while (buf.length < n && !enough(buf)) {
      const next = await this.it.next();
      if (next.done) break;
      buf = Buffer.concat([buf, next.value]);
    }
    this.head = [buf];
    return buf;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    for (const b of this.head) if (b.length) yield b;
    this.head = [];
    for (let n = await this.it.next(); !n.done; n = await this.it.next()) yield n.value;
  }
}

/** Armored age (PEM-like, 64 base64 characters a line) → binary age, a line at a time. */
async function* dearmor(source: AsyncIterable<Buffer>, label: string): AsyncGenerator<Buffer> {
  const damaged = (what: string) => new InputError(`${label}: damaged armored age capsule: ${what}`);
  let state: 'begin' | 'body' | 'end' = 'begin';
  let shortLine = false;
  let text = '';
  const line = (l: string): Buffer | null => {
    if (state === 'begin') {
      if (!l.trim()) return null;
      if (l.trim() !== AGE_ARMOR_BEGIN) throw damaged('it does not start with the BEGIN line');
      state = 'body';
      return null;
    }
    if (state === 'end') {
      if (l.trim()) throw damaged('data after the END line');
      return null;
    }
    if (l === AGE_ARMOR_END) {
      state = 'end';
      return null;
    }
    if (shortLine || !/^[A-Za-z0-9+/]{1,64}={0,2}$/.test(l) || l.length > 64)
      throw damaged('a line of the body is not base64 of 64 characters');
    shortLine = l.length < 64;
    return Buffer.from(l, 'base64');
  };
  for await (const chunk of source) {
    text += chunk.toString('latin1');
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n')) {
      const out = line(text.slice(0, nl).replace(/\r$/, ''));
      text = text.slice(nl + 1);
      if (out?.length) yield out;
    }
    if (text.length > 1 << 20) throw damaged('a line longer than 1 MiB');
  }
  if (text) {
    const out = line(text.replace(/\r$/, ''));
    if (out?.length) yield out;
  }
  if ((state as string) !== 'end') throw damaged('truncated (no END line)');
}

/** Stanza types of an age header (its "-> type …" lines), for error messages; unauthenticated. */
export function ageStanzaTypes(header: Buffer): string[] {
  const text = header.toString('latin1');
  const end = text.indexOf('\n---');
  return (end >= 0 ? text.slice(0, end) : text)
    .split('\n')
    .filter((l) => l.startsWith('-> '))
    .map((l) => l.slice(3).split(' ')[0] ?? '');
}

/** How an age file was encrypted, from its stanza types: "to 2 age recipients (X25519)", … */
export function describeAgeStanzas(types: string[]): string {
  if (types.includes('scrypt')) return 'with an age passphrase (scrypt)';
  const x = types.filter((t) => t === 'X25519').length;
  const other = [...new Set(types.filter((t) => t !== 'X25519'))];
  const parts = [
    ...(x ? [`${x} age recipient${x === 1 ? '' : 's'} (X25519)`] : []),
    ...(other.length
      ? [`recipients of type ${other.map((t) => JSON.stringify(t.slice(0, 40))).join(', ')}`]
      : []),
  ];
  return parts.length ? `to ${parts.join(' and ')}` : 'with age (no recipient stanza found)';
}

export type AgeDecryptKey = AgeIdentityKey | AgePassphrase;

/** age ciphertext (binary or armored) in, plaintext out. */
export function createAgeDecryptStream(key: AgeDecryptKey, label: string): Duplex {
  return Duplex.from(async function* (source: AsyncIterable<Buffer>) {
    const raw = new ByteSource(bytesOf(source));
    const armored = ageFormatOf(await raw.peek(256)) === 'armored';
    const bytes = new ByteSource(
      (armored ? dearmor(raw, label) : raw[Symbol.asyncIterator]()) as AsyncIterator<Buffer>,
    );
    const header = await bytes.peek(MAX_HEADER_BYTES, (b) => b.includes('\n--- '));
    const age = await import('age-encryption');
    const decrypter = new age.Decrypter();
    if ('identities' in key) for (const id of key.identities) decrypter.addIdentity(id);
    else decrypter.addPassphrase(key.passphrase);
    let out: AsyncIterable<Uint8Array>;
    try {
      out = (await decrypter.decrypt(
        ReadableStream.from(bytes) as ReadableStream<Uint8Array>,
      )) as unknown as AsyncIterable<Uint8Array>;
    } catch (err) {
      throw await headerError(err, key, label, ageStanzaTypes(header));
    }
    try {
      for await (const chunk of out) yield asBuffer(chunk);
    } catch (err) {
      if (err instanceof InputError) throw err;
      throw new InputError(
        `${label}: cannot decrypt capsule: the file is damaged or truncated (an age payload chunk failed authentication: ${(err as Error).message})`,
      );
    }
  });
}

/** The error for a header the key does not open: whose key, which recipients, or damage. */
async function headerError(err: unknown, key: AgeDecryptKey, label: string, types: string[]): Promise<Error> {
  if (err instanceof InputError) return err;
  const msg = (err as Error).message ?? String(err);
  const how = describeAgeStanzas(types);
  if (/no identity matched/.test(msg)) {
    if ('identities' in key) {
      if (types.includes('scrypt'))
        return new InputError(
          `${label}: cannot decrypt capsule: it is encrypted ${how}, but ${key.source} holds an age identity: give the passphrase in REPLAY_CAPSULE_KEY`,
        );
      const age = await import('age-encryption');
      const mine = await Promise.all(key.identities.map((id) => age.identityToRecipient(id)));
      return new InputError(
        `${label}: cannot decrypt capsule: it is encrypted ${how}, and the key in ${key.source} (recipient ${mine.join(', ')}) is not one of them (or the file's header is damaged)`,
      );
    }
    return new InputError(
      types.includes('scrypt')
        ? `${label}: cannot decrypt capsule: wrong passphrase in ${key.source} (or the file's header is damaged)`
        : `${label}: cannot decrypt capsule: it is encrypted ${how}, but ${key.source} holds a passphrase: give an age identity (AGE-SECRET-KEY-1…)`,
    );
  }
  if (/HMAC/.test(msg))
    return new InputError(
      `${label}: cannot decrypt capsule: the file's age header is damaged (its MAC does not match)`,
    );
  return new InputError(`${label}: damaged age capsule: its header cannot be read (${msg})`);
}
