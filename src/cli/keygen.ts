/**
 * `replay-env keygen --out <path>`: an X25519 key pair for public-key encrypted capsules
 * (docs/encryption.md). The private key goes to <path> (mode 0600), the public key to <path>.pub;
 * existing files are never overwritten. Prints the fingerprint and what to do next, never the key.
 */
import { existsSync, mkdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { CAPSULE_KEY_ENV, generateCapsuleKeyPair } from '../capsule/encryption.js';
import { InputError } from '../errors.js';
import { printJson } from './context.js';
import type { RegisterCommand } from './registry.js';

export const registerKeygen: RegisterCommand = (program, io) => {
  program
    .command('keygen')
    .description(
      'Generate an X25519 key pair for encrypted capsules: the private key (a CI secret) and <out>.pub (for whoever exports).',
    )
    .requiredOption(
      '--out <path>',
      'private key file to write (mode 0600); the public key goes to <path>.pub',
    )
    .option('--json', 'print a machine-readable result')
    .addHelpText('after', '\nExit codes: 0 written, 2 bad input (e.g. a file already exists).')
    .action((opts: { out: string; json?: boolean }) => {
      const privatePath = resolve(io.cwd, opts.out);
      const publicPath = `${privatePath}.pub`;
      for (const p of [privatePath, publicPath])
        if (existsSync(p))
          throw new InputError(
            `--out ${opts.out}: ${shown(io.cwd, p)} already exists; refusing to overwrite a key (capsules encrypted to it would become unreadable). Choose another --out, or delete it first`,
          );
      const pair = generateCapsuleKeyPair();
      mkdirSync(dirname(privatePath), { recursive: true });
      // `wx`: fail rather than overwrite if the file appeared meanwhile; 0600 from creation on.
      writeKey(privatePath, pair.privatePem, 0o600, opts.out);
      try {
        writeKey(publicPath, pair.publicPem, 0o644, `${opts.out}.pub`);
      } catch (err) {
        unlinkSync(privatePath); // no half-written pair
        throw err;
      }
      const priv = shown(io.cwd, privatePath);
      const pub = shown(io.cwd, publicPath);
      if (opts.json) {
        printJson(io, {
          algorithm: 'x25519',
          privateKey: privatePath,
          publicKey: publicPath,
          fingerprint: pair.fingerprint,
        });
        return;
      }
      io.stdout(
        [
          `wrote ${priv} (private key, mode 0600: keep it secret)`,
          `wrote ${pub} (public key: safe to share)`,
          `fingerprint ${pair.fingerprint} (sha256 of the public key; capsules name the key they are encrypted to by it)`,
          '',
          'next steps:',
          `  1. store the private key as the CI secret ${CAPSULE_KEY_ENV}, e.g. \`gh secret set ${CAPSULE_KEY_ENV} < ${priv}\`,`,
          `     and give it to the Action: \`capsule-key: \${{ secrets.${CAPSULE_KEY_ENV} }}\`; then delete ${priv} or move it to a password manager`,
          `  2. give ${pub} to whoever exports: \`replay-env export-postgres … --out capsule.json.gz.enc --encrypt-to ${pub}\``,
          `  3. read capsules locally with REPLAY_CAPSULE_KEY_FILE=${priv} (inspect, materialize-postgres, run)`,
          '',
        ].join('\n'),
      );
    });
};

function writeKey(path: string, pem: string, mode: number, name: string): void {
  try {
    writeFileSync(path, pem, { mode, flag: 'wx' });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(
      code === 'EEXIST'
        ? `--out: ${name} already exists; refusing to overwrite a key`
        : `--out: cannot write ${name} (${code ?? (err as Error).message})`,
    );
  }
}

function shown(cwd: string, path: string): string {
  const rel = relative(cwd, path);
  return rel && !rel.startsWith('..') ? rel : path;
}
