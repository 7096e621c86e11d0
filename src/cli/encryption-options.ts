/**
 * export-postgres' `--encrypt-to` / `--encrypt`: the key to encrypt the capsule with, read and
 * checked before anything connects (a bad recipient or a missing key is exit 2).
 */
import { resolve } from 'node:path';
import { parseAgeRecipients } from '../capsule/age.js';
import { CAPSULE_KEY_ENV, type CapsuleKey, capsuleKeyFromEnv } from '../capsule/encryption.js';
import { InputError } from '../errors.js';
import { readRegularTextFile } from '../util/input-file-kind.js';
import type { CliIO } from './context.js';

/** Commander's collector for a repeatable option. */
export function collectValues(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function encryptionKeyFor(
  opts: { encrypt?: boolean; encryptTo?: string[] },
  io: CliIO,
): CapsuleKey | undefined {
  if (opts.encrypt && opts.encryptTo !== undefined)
    throw new InputError(
      '--encrypt and --encrypt-to are exclusive: give --encrypt-to <age1… recipient or recipients file> (recommended) or --encrypt (a passphrase in REPLAY_CAPSULE_KEY)',
      { field: '--encrypt-to' },
    );
  if (opts.encryptTo !== undefined)
    return parseAgeRecipients(opts.encryptTo, (file) => readRecipientsFile(resolve(io.cwd, file), file));
  return opts.encrypt ? passphraseKey(io) : undefined;
}

function readRecipientsFile(path: string, shown: string): string {
  try {
    return readRegularTextFile(path, `--encrypt-to ${shown}`, 'recipients');
  } catch (err) {
    if (err instanceof InputError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(
      code === 'ENOENT'
        ? `--encrypt-to ${shown}: neither an age recipient (age1…) nor an existing recipients file`
        : `--encrypt-to ${shown}: cannot read the recipients file (${code ?? (err as Error).message})`,
      { field: '--encrypt-to' },
    );
  }
}

/** --encrypt: a passphrase (or 32-byte key, used as one) from the environment, for age's scrypt. */
function passphraseKey(io: CliIO): CapsuleKey {
  const key = capsuleKeyFromEnv(io.env, io.cwd);
  if (!key)
    throw new InputError(
      `--encrypt needs a passphrase in ${CAPSULE_KEY_ENV} (at least 12 characters, e.g. \`openssl rand -hex 32\`); or encrypt to an age recipient with --encrypt-to age1…`,
      { field: '--encrypt' },
    );
  if (key.kind === 'age-identity' || key.kind === 'x25519-private')
    throw new InputError(
      `--encrypt takes a passphrase, but ${key.source} holds a private key: encrypt to its recipient with --encrypt-to age1… (\`replay-env keygen\` printed it; \`age-keygen -y <file>\` prints it again), and keep the private key off the export machine`,
      { field: '--encrypt' },
    );
  return key;
}

/** How the capsule was encrypted, for the summary line and the JSON result. */
export function encryptionSummary(
  key: CapsuleKey | undefined,
): { text: string; encryptedTo?: string[] } | undefined {
  if (!key) return undefined;
  if (key.kind === 'age-recipients')
    return {
      text: `encrypted with age to ${key.recipients.length} recipient${key.recipients.length === 1 ? '' : 's'}: ${key.recipients.join(', ')}`,
      encryptedTo: key.recipients,
    };
  return { text: 'encrypted with age, passphrase (scrypt)' };
}
