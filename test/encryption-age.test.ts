/**
 * age-encrypted capsules (capsule/age.ts, docs/encryption.md): keygen, export --encrypt-to one or
 * more recipients (strings or a recipients file) and --encrypt (age scrypt), transparent reading
 * (binary and armored), the errors for a wrong/other key, a damaged or truncated file and no key —
 * exit 2, no stack trace, target database unchanged — and interop with Debian's `age` both ways.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  createReadStream,
  createWriteStream,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGE_MAGIC, parseAgeRecipients } from '../src/capsule/age.js';
import { capsuleOpenOptionsFor, createEncryptStream, parseCapsuleKey } from '../src/capsule/encryption.js';
import { type CapsuleEvent, readCapsule } from '../src/capsule/reader.js';
import { stringifyExact } from '../src/util/exact-json.js';
import { writeTestCapsule } from './helpers/capsule-file.js';
import { cli } from './helpers/cli.js';
import { useTestDatabase, withClient } from './helpers/db.js';
import { databaseChecksum } from './helpers/db-checksum.js';

const dir = mkdtempSync(join(tmpdir(), 'replay-age-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const NO_STACK = /\n\s+at /;
const NO_KEY = { REPLAY_CAPSULE_KEY: '', REPLAY_CAPSULE_KEY_FILE: '' };
const hasAge = spawnSync('age', ['--version']).status === 0;
if (!hasAge)
  console.warn('encryption-age.test.ts: `age` is not installed (apt-get install age): interop tests skipped');

async function keygen(name: string): Promise<{ file: string; recipient: string; identity: string }> {
  const file = join(dir, name);
  const r = await cli(['keygen', '--out', file, '--json']);
  expect(r.code, r.stderr).toBe(0);
  const identity = readFileSync(file, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('AGE-SECRET-KEY-1'))!;
  return { file, recipient: JSON.parse(r.stdout).recipient, identity };
}

async function rowsOf(path: string, keyText?: string): Promise<string[]> {
  const rows: string[] = [];
  await readCapsule(
    path,
    (e: CapsuleEvent) => {
      if (e.kind === 'row') rows.push(`${e.table}:${stringifyExact(e.row)}`);
    },
    capsuleOpenOptionsFor(keyText ? parseCapsuleKey(keyText) : undefined),
  );
  return rows;
}

let plain = '';
let plainRows: string[] = [];
beforeAll(async () => {
  plain = join(dir, 'plain.json');
  writeTestCapsule(plain, {
    app: 'ageapp',
    subject: { user_id: 'u1' },
    graph: [{ user_id: 'u1' }],
    // ~200 KB: several 64 KiB age chunks.
    tables: {
      notes: Array.from({ length: 2000 }, (_, i) => ({ id: i + 1, body: `note ${i} ☃ ${'x'.repeat(80)}` })),
    },
  });
  plainRows = await rowsOf(plain);
});

describe('keygen', () => {
  it('writes an age identity (0600) and prints its recipient; refuses to overwrite', async () => {
    const out = join(dir, 'k1.key');
    const r = await cli(['keygen', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const text = readFileSync(out, 'utf8');
    const identity = text.split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-1'))!;
    expect(identity).toMatch(/^AGE-SECRET-KEY-1[0-9A-Z]{58}$/);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const recipient = /recipient (age1[0-9a-z]{58})/.exec(r.stdout)?.[1];
    expect(recipient).toBeDefined();
    expect(text).toContain(`# public key: ${recipient}`);
    expect(r.stdout + r.stderr).not.toContain(identity);
    expect(r.stdout).toContain('gh secret set REPLAY_CAPSULE_KEY <');
    if (hasAge) expect(execFileSync('age-keygen', ['-y', out], { encoding: 'utf8' }).trim()).toBe(recipient);

    const again = await cli(['keygen', '--out', out]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already exists; refusing to overwrite/);
    expect(readFileSync(out, 'utf8')).toBe(text);
  });
});

describe('round trips through the streaming reader', () => {
  it('multiple recipients: each identity reads it; the format is age; a key file with comments works', async () => {
    const a = await keygen('a.key');
    const b = await keygen('b.key');
    const enc = join(dir, 'ab.json.age');
    await pipeline(
      createReadStream(plain),
      createEncryptStream(parseAgeRecipients([a.recipient, b.recipient], () => '')),
      createWriteStream(enc),
    );
    expect(readFileSync(enc).subarray(0, AGE_MAGIC.length).equals(AGE_MAGIC)).toBe(true);
    expect(await rowsOf(enc, a.identity)).toEqual(plainRows);
    expect(await rowsOf(enc, readFileSync(b.file, 'utf8'))).toEqual(plainRows);
  });

  it('a recipients file (comments, blank lines) and a passphrase (scrypt)', async () => {
    const a = await keygen('rf-a.key');
    const b = await keygen('rf-b.key');
    const list = join(dir, 'recipients.txt');
    writeFileSync(list, `# CI\n${a.recipient}\n\n# on-call\n${b.recipient}\n`);
    const key = parseAgeRecipients([list], (f) => readFileSync(f, 'utf8'));
    expect(key.recipients).toEqual([a.recipient, b.recipient]);
    const enc = join(dir, 'rf.json.age');
    await pipeline(createReadStream(plain), createEncryptStream(key), createWriteStream(enc));
    expect(await rowsOf(enc, b.identity)).toEqual(plainRows);

    const pw = join(dir, 'pw.json.age');
    const pass = 'correct horse battery staple';
    await pipeline(
      createReadStream(plain),
      createEncryptStream(parseCapsuleKey(pass), { scryptWorkFactor: 10 }),
      createWriteStream(pw),
    );
    expect(readFileSync(pw, 'latin1')).toMatch(/^age-encryption\.org\/v1\n-> scrypt /);
    expect(await rowsOf(pw, pass)).toEqual(plainRows);
    await expect(rowsOf(pw, 'another passphrase!!')).rejects.toThrow(
      /wrong passphrase in REPLAY_CAPSULE_KEY/,
    );
    await expect(rowsOf(pw, a.identity)).rejects.toThrow(
      /encrypted with an age passphrase \(scrypt\), but REPLAY_CAPSULE_KEY holds an age identity/,
    );
  });

  it('bad recipients are refused naming the value, before anything is written', () => {
    expect(() => parseAgeRecipients(['age1nope'], () => '')).toThrow(
      /--encrypt-to age1nope: not an age X25519 recipient/,
    );
    expect(() => parseAgeRecipients(['AGE-SECRET-KEY-1X'], () => '')).toThrow(
      /is an age identity \(a private key\)/,
    );
    expect(() => parseAgeRecipients(['keys.pem'], () => '-----BEGIN PUBLIC KEY-----\n')).toThrow(
      /old REPLAYENC1/,
    );
    expect(() => parseAgeRecipients(['empty.txt'], () => '# nobody\n')).toThrow(/holds no age recipient/);
  });
});

describe.skipIf(!hasAge)("interop with Debian's age", () => {
  it('a capsule replay-env encrypted decrypts with `age -d -i key`', async () => {
    const a = await keygen('interop-a.key');
    const enc = join(dir, 'to-age.json.age');
    await pipeline(
      createReadStream(plain),
      createEncryptStream(parseAgeRecipients([a.recipient], () => '')),
      createWriteStream(enc),
    );
    const out = execFileSync('age', ['-d', '-i', a.file, enc]);
    expect(out.equals(readFileSync(plain))).toBe(true);
  });

  it('capsules `age -r` encrypted (binary and armored -a) load in replay-env', async () => {
    const a = await keygen('interop-b.key');
    for (const armor of [false, true]) {
      const enc = join(dir, `from-age${armor ? '.armored' : ''}.json.age`);
      execFileSync('age', ['-r', a.recipient, ...(armor ? ['-a'] : []), '-o', enc, plain]);
      if (armor) expect(readFileSync(enc, 'utf8')).toMatch(/^-----BEGIN AGE ENCRYPTED FILE-----/);
      expect(await rowsOf(enc, a.identity)).toEqual(plainRows);
      const r = await cli(['inspect', enc, '--json'], {
        env: { ...NO_KEY, REPLAY_CAPSULE_KEY_FILE: a.file },
      });
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).file.encoding).toBe('encrypted');
    }
    // `age -p` (passphrase) reads the passphrase from the terminal only, so it is not run here;
    // the scrypt stanza it writes is the one the passphrase round trip above produces and reads.
  });
});

// ------------------------------------------------------------------------------------------------
// export → materialize on a real database; every failure leaves the target unchanged

const FIXTURE = join(import.meta.dirname, 'fixtures/action');
const db = useTestDatabase('age');

describe('export --encrypt-to / --encrypt → materialize (real Postgres)', () => {
  const manifest = join(FIXTURE, 'replay.manifest.json');
  let target = '';
  let a: Awaited<ReturnType<typeof keygen>>;
  let b: Awaited<ReturnType<typeof keygen>>;
  const exportArgs = (out: string) => [
    'export-postgres',
    '--app',
    manifest,
    '--subject',
    'account_id=acme',
    '--since-days',
    '100000',
    '--out',
    out,
    '--db-url',
    db.url,
  ];
  const materialize = (capsule: string, env: Record<string, string>) =>
    cli(['materialize-postgres', '--app', manifest, '--capsule', capsule, '--db-url', target, '--json'], {
      env: { ...NO_KEY, ...env },
    });

  beforeAll(async () => {
    await db.runFile(join(FIXTURE, 'schema.sql'));
    await db.runFile(join(FIXTURE, 'data.sql'));
    await db.query(
      `insert into notes select 1000 + g, 'acme', repeat('note ' || g || ' ', 20), '2024-02-01T00:00:00Z'::timestamptz + g * interval '1 minute' from generate_series(1, 3000) g`,
    );
    target = await db.create('age_target');
    await withClient(
      target,
      async (c) => void (await c.query(readFileSync(join(FIXTURE, 'schema.sql'), 'utf8'))),
    );
    a = await keygen('db-a.key');
    b = await keygen('db-b.key');
  }, 120_000);

  it('to two recipients (one string, one recipients file): each identity materializes it exactly', {
    timeout: 180_000,
  }, async () => {
    const list = join(dir, 'oncall.txt');
    writeFileSync(list, `# on-call\n${b.recipient}\n`);
    const out = join(dir, 'acme.json.gz.age');
    const r = await cli([...exportArgs(out), '--encrypt-to', a.recipient, '--encrypt-to', list, '--json'], {
      env: NO_KEY,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).encryptedTo).toEqual([a.recipient, b.recipient]);
    expect(readFileSync(out).subarray(0, AGE_MAGIC.length).equals(AGE_MAGIC)).toBe(true);
    for (const key of [{ REPLAY_CAPSULE_KEY: a.identity }, { REPLAY_CAPSULE_KEY_FILE: b.file }] as Record<
      string,
      string
    >[]) {
      const m = await materialize(out, key);
      expect(m.code, m.stderr).toBe(0);
      expect(JSON.parse(m.stdout).hashCheck).toBe('verified');
    }
  });

  it('--encrypt (passphrase, age scrypt) round-trips; a bad recipient is exit 2 before connecting', {
    timeout: 180_000,
  }, async () => {
    const out = join(dir, 'acme-pw.json.age');
    const pass = { REPLAY_CAPSULE_KEY: 'a long shared passphrase' };
    const r = await cli([...exportArgs(out), '--encrypt'], { env: { ...NO_KEY, ...pass } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/encrypted with age, passphrase \(scrypt\)/);
    const m = await materialize(out, pass);
    expect(m.code, m.stderr).toBe(0);

    const bad = await cli(
      [
        ...exportArgs(join(dir, 'never.age')),
        '--encrypt-to',
        'age1xyz',
        '--db-url',
        'postgres://nobody@127.0.0.1:1/x',
      ],
      { env: NO_KEY },
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--encrypt-to age1xyz: not an age X25519 recipient/);
  });

  it('no key, another recipient, a damaged byte, a truncated file: exit 2, clear, no stack, target unchanged', {
    timeout: 180_000,
  }, async () => {
    const out = join(dir, 'acme.json.gz.age');
    const other = await keygen('db-other.key');
    const bytes = readFileSync(out);
    const damaged = join(dir, 'damaged.json.age');
    const flipped = Buffer.from(bytes);
    flipped[Math.floor(flipped.length * 0.6)]! ^= 0x01;
    writeFileSync(damaged, flipped);
    const truncated = join(dir, 'truncated.json.age');
    writeFileSync(truncated, bytes.subarray(0, bytes.length - 17));
    const before = await databaseChecksum(target);
    const cases: [string, Record<string, string>, RegExp][] = [
      [out, {}, /capsule is encrypted to 2 age recipients \(X25519\); set REPLAY_CAPSULE_KEY/],
      [
        out,
        { REPLAY_CAPSULE_KEY: other.identity },
        new RegExp(`recipient ${other.recipient}\\) is not one of them`),
      ],
      [out, { REPLAY_CAPSULE_KEY: 'a long shared passphrase' }, /holds a passphrase: give an age identity/],
      [damaged, { REPLAY_CAPSULE_KEY: a.identity }, /damaged or truncated/],
      [truncated, { REPLAY_CAPSULE_KEY: a.identity }, /damaged or truncated/],
    ];
    for (const [file, env, message] of cases) {
      const r = await materialize(file, env);
      expect(r.code, `${file} ${JSON.stringify(Object.keys(env))}`).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(NO_STACK);
      expect(r.stderr).not.toContain(a.identity);
      expect(await databaseChecksum(target)).toEqual(before);
    }
  });
});
