/**
 * The bundled Action with an encrypted capsule: the key comes from input `capsule-key` (masked)
 * or the REPLAY_CAPSULE_KEY env var; without it the step fails naming both. Real Postgres, the
 * local fake GitHub API (requests validated against @octokit/openapi), `node dist/index.js`.
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ENCRYPTED_MAGIC } from '../src/capsule/open.js';
import { runBundledAction } from './helpers/action-process.js';
import { cli } from './helpers/cli.js';
import { useTestDatabase, withClient } from './helpers/db.js';
import { FakeGitHub } from './helpers/github-server.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/action/', import.meta.url));
const KEY = randomBytes(32).toString('base64');
const db = useTestDatabase('action_enc');
const gh = new FakeGitHub();
let workspace = '';
let replayUrl = '';

beforeAll(async () => {
  await gh.start();
  workspace = mkdtempSync(join(tmpdir(), 'action-enc-ws-'));
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
}, 180_000);

afterAll(async () => {
  await gh.stop();
  rmSync(workspace, { recursive: true, force: true });
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
      /capsule is encrypted; set REPLAY_CAPSULE_KEY .*the capsule-key input/,
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
});
