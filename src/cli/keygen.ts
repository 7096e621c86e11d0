/**
 * `replay-env keygen --out <path>`: an age identity for encrypted capsules (docs/encryption.md),
 * in the format of `age-keygen` (comments, then AGE-SECRET-KEY-1…), mode 0600; an existing file is
 * never overwritten. Prints the recipient (age1…, public) and what to do next, never the identity.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { generateAgeIdentity } from '../capsule/age.js';
import { CAPSULE_KEY_ENV } from '../capsule/encryption.js';
import { InputError } from '../errors.js';
import { printJson } from './context.js';
import type { RegisterCommand } from './registry.js';

export const registerKeygen: RegisterCommand = (program, io) => {
  program
    .command('keygen')
    .description(
      'Generate an age identity for encrypted capsules (a CI secret) and print its recipient (age1…, for whoever exports).',
    )
    .requiredOption('--out <path>', 'identity file to write (mode 0600; never overwritten)')
    .option('--json', 'print a machine-readable result')
    .addHelpText('after', '\nExit codes: 0 written, 2 bad input (e.g. the file already exists).')
    .action(async (opts: { out: string; json?: boolean }) => {
      const path = resolve(io.cwd, opts.out);
      if (existsSync(path))
        throw new InputError(
          `--out ${opts.out}: ${shown(io.cwd, path)} already exists; refusing to overwrite a key (capsules encrypted to it would become unreadable). Choose another --out, or delete it first`,
          { field: '--out' },
        );
      const { identity, recipient } = await generateAgeIdentity();
      mkdirSync(dirname(path), { recursive: true });
      const created = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
      writeKey(path, `# created: ${created}\n# public key: ${recipient}\n${identity}\n`, 0o600, opts.out);
      const file = shown(io.cwd, path);
      if (opts.json) {
        printJson(io, { format: 'age', identityFile: path, recipient });
        return;
      }
      io.stdout(
        [
          `wrote ${file} (age identity, mode 0600: keep it secret)`,
          `recipient ${recipient} (public: safe to share)`,
          '',
          'next steps:',
          `  1. store the identity as the CI secret ${CAPSULE_KEY_ENV}, e.g. \`gh secret set ${CAPSULE_KEY_ENV} < ${file}\`,`,
          `     and give it to the Action: \`capsule-key: \${{ secrets.${CAPSULE_KEY_ENV} }}\`; then delete ${file} or move it to a password manager`,
          `  2. whoever exports encrypts to the recipient: \`replay-env export-postgres … --out capsule.json.gz.age --encrypt-to ${recipient}\``,
          `  3. read capsules locally with REPLAY_CAPSULE_KEY_FILE=${file} (inspect, materialize-postgres, run), or \`age -d -i ${file}\``,
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
