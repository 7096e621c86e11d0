/**
 * The bundled Action with an encrypted capsule: the key comes from input `capsule-key` (masked)
 * or the REPLAY_CAPSULE_KEY env var; without it the step fails naming both. Public-key mode: a
 * capsule artifact encrypted to a `keygen` public key is replayed with the multi-line PEM private
 * key in `capsule-key`, and no line of it reaches the log, the summary or GitHub. Real Postgres, the
 * local fake GitHub API (requests validated against @octokit/openapi), `node dist/index.js`.
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ENCRYPTED_MAGIC } from '../src/capsule/open.js';
import { runBundledAction } from './helpers/action-process.js';
import { cli } from './helpers/cli.js';
import { useTestDatabase, withClient } from './helpers/db.js';
import { buildZip, FakeGitHub } from './helpers/github-server.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/action/', import.meta.url));
const KEY = randomBytes(32).toString('base64');
/** Public-key mode: the PEM private key (multi-line) from `replay-env keygen`. */
let PRIVATE_PEM = '';
const db = useTestDatabase('action_enc');
const gh = new FakeGitHub();
let workspace = '';
let keyDir = '';
let replayUrl = '';

beforeAll(async () => {
  await gh.start();
  workspace = mkdtempSync(join(tmpdir(), 'action-enc-ws-'));
  keyDir = mkdtempSync(join(tmpdir(), 'action-enc-keys-'));
  copyFileSync(join(FIXTURE, 'replay.manifest.json'), join(workspace, 'replay.manifest.json'));
  await db.runFile(join(FIXTURE, 'schema.sql'));
  await db.runFile(join(FIXTURE, 'data.sql'));
  replayUrl = await db.create('replay');
  await withClient(
    replayUrl,
    async (c) => void (await c.query(readFileSync(join(FIXTURE, 'schema.sql'), 'utf8'))),
  );
  const r = await cli(
    [
      'export-postgres',
      '--app',
      join(workspace, 'replay.manifest.json'),
      '--subject',
      'account_id=acme',
      '--since-days',
      '100000',
      '--out',
      join(workspace, 'acme.json.gz.enc'),
      '--db-url',
      db.url,
      '--encrypt',
    ],
    { env: { REPLAY_CAPSULE_KEY: KEY } },
  );
  if (r.code !== 0) throw new Error(`export failed (${r.code}): ${r.stderr}`);
  const head = readFileSync(join(workspace, 'acme.json.gz.enc')).subarray(0, ENCRYPTED_MAGIC.length);
  expect(head.equals(ENCRYPTED_MAGIC)).toBe(true);

  // Public-key mode: the key pair lives outside the workspace; the exporter only has the .pub.
  const keyPath = join(keyDir, 'capsule.key');
  const kg = await cli(['keygen', '--out', keyPath]);
  if (kg.code !== 0) throw new Error(`keygen failed: ${kg.stderr}`);
  PRIVATE_PEM = readFileSync(keyPath, 'utf8');
  const pkCapsule = join(keyDir, 'acme-pk.json.gz.enc');
  const pk = await cli(
    [
      'export-postgres',
      '--app',
      join(workspace, 'replay.manifest.json'),
      '--subject',
      'account_id=acme',
      '--since-days',
      '100000',
      '--out',
      pkCapsule,
      '--db-url',
      db.url,
      '--encrypt-to',
      `${keyPath}.pub`,
    ],
    { env: { REPLAY_CAPSULE_KEY: '', REPLAY_CAPSULE_KEY_FILE: '' } },
  );
  if (pk.code !== 0) throw new Error(`export --encrypt-to failed (${pk.code}): ${pk.stderr}`);
  gh.addArtifact({
    owner: 'acme',
    repo: 'shop',
    runId: 888,
    name: 'replay-capsule-pk',
    zip: buildZip({ 'acme-pk.json.gz.enc': readFileSync(pkCapsule) }),
  });
}, 180_000);

afterAll(async () => {
  await gh.stop();
  rmSync(workspace, { recursive: true, force: true });
  rmSync(keyDir, { recursive: true, force: true });
});

afterEach(() => {
  expect(gh.violations).toEqual([]);
});

const run = (inputs: Record<string, string>, env?: Record<string, string>) =>
  runBundledAction({
    inputs: {
      'database-url': replayUrl,
      'github-token': 'ghs_test',
      app: 'replay.manifest.json',
      capsule: 'acme.json.gz.enc',
      'check-name': 'replay encrypted',
      ...inputs,
    },
    eventName: 'schedule',
    payload: { schedule: '0 3 * * *' },
    sha: '2'.repeat(40),
    workspace,
    apiUrl: gh.url,
    env,
  });

describe('the Action with an encrypted capsule', () => {
  it('input capsule-key: materializes, judges, and masks the key', { timeout: 120_000 }, async () => {
    const r = await run({ 'capsule-key': KEY });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.outputs.decision).toBe('continue');
    const trace = JSON.parse(readFileSync(r.outputs['trace-path']!, 'utf8'));
    expect(trace.materialization.status).toBe('ok');
    expect(r.stdout).toContain(`::add-mask::${KEY}`);
    // The key appears nowhere else in the log.
    expect(r.stdout.split(KEY).length - 1).toBe(1);
    expect(r.stdout).toMatch(/Capsule: file acme\.json\.gz\.enc .*\(encrypted\)/);
  });

  it('env REPLAY_CAPSULE_KEY works too', { timeout: 120_000 }, async () => {
    const r = await run({}, { REPLAY_CAPSULE_KEY: KEY });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.outputs.decision).toBe('continue');
  });

  it('no key, a wrong key, a malformed key: the step fails with a clear message', {
    timeout: 120_000,
  }, async () => {
    const none = await run({});
    expect(none.code).toBe(1);
    const noneErrors = none.commands.filter((c) => c.command === 'error').map((c) => c.message);
    expect(noneErrors.join('\n')).toMatch(
      /capsule is encrypted with a 32-byte key; set REPLAY_CAPSULE_KEY .*the capsule-key input/,
    );

    const wrong = await run({ 'capsule-key': randomBytes(32).toString('hex') });
    expect(wrong.code).toBe(1);
    expect(wrong.commands.map((c) => c.message).join('\n')).toMatch(
      /cannot decrypt capsule: wrong key or corrupted file/,
    );

    const malformed = await run({ 'capsule-key': 'short' });
    expect(malformed.code).toBe(1);
    expect(malformed.commands.map((c) => c.message).join('\n')).toMatch(
      /input "capsule-key": expected a 32-byte key/,
    );
  });

  it('public-key mode: an artifact encrypted to a .pub is replayed with the PEM private key in capsule-key; no line of the key leaks', {
    timeout: 120_000,
  }, async () => {
    const requestsBefore = gh.requests.length;
    const r = await run({
      capsule: '',
      'capsule-artifact': 'replay-capsule-pk',
      'capsule-run-id': '888',
      'capsule-key': PRIVATE_PEM,
      'check-name': 'replay pk',
    });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.outputs.decision).toBe('continue');
    expect(r.stdout).toMatch(/Capsule: artifact "replay-capsule-pk" .*\(encrypted\)/);
    const tracePath = r.outputs['trace-path']!;
    const trace = readFileSync(tracePath, 'utf8');
    expect(JSON.parse(trace).materialization.status).toBe('ok');

    const lines = PRIVATE_PEM.split('\n').filter((l) => l.trim());
    expect(lines.length).toBeGreaterThanOrEqual(3);
    // Every non-empty line is registered with the runner's masker…
    for (const line of lines) expect(r.stdout).toContain(`::add-mask::${line}\n`);
    // …and appears nowhere else: the log without the add-mask commands, stderr, the summary, the
    // outputs, the trace, and every request made to GitHub.
    const log = r.stdout
      .split('\n')
      .filter((l) => !l.startsWith('::add-mask::'))
      .join('\n');
    const requests = JSON.stringify(gh.requests.slice(requestsBefore));
    expect(gh.requests.length).toBeGreaterThan(requestsBefore);
    for (const line of lines)
      for (const [where, text] of Object.entries({
        log,
        stderr: r.stderr,
        summary: r.summary,
        outputs: JSON.stringify(r.outputs),
        trace,
        requests,
      }))
        expect(text.includes(line), `a line of the private key in ${where}`).toBe(false);
  });

  it('public-key mode: a symmetric key or another private key fails clearly, naming the fingerprints', {
    timeout: 120_000,
  }, async () => {
    const base = { capsule: '', 'capsule-artifact': 'replay-capsule-pk', 'capsule-run-id': '888' };
    const sym = await run({ ...base, 'capsule-key': KEY });
    expect(sym.code).toBe(1);
    expect(sym.commands.map((c) => c.message).join('\n')).toMatch(
      /cannot decrypt capsule: wrong key or corrupted file \(the capsule was encrypted to a public key \(fingerprint [0-9a-f]{64}\)/,
    );
    const otherKey = join(keyDir, 'other.key');
    expect((await cli(['keygen', '--out', otherKey])).code).toBe(0);
    const other = await run({ ...base, 'capsule-key': readFileSync(otherKey, 'utf8') });
    expect(other.code).toBe(1);
    expect(other.commands.map((c) => c.message).join('\n')).toMatch(
      /encrypted to key [0-9a-f]{64}, your key is [0-9a-f]{64}/,
    );
    expect(existsSync(otherKey)).toBe(true);
  });
});
