/**
 * The bundled Action with an age-encrypted capsule: the age identity file of `replay-env keygen`
 * (what `gh secret set REPLAY_CAPSULE_KEY < key.txt` stores) comes from input `capsule-key` (masked)
 * or the REPLAY_CAPSULE_KEY env var; without it the step fails naming both; no line of the key
 * reaches the log, the summary, the outputs, the trace or GitHub. Real Postgres, the local fake
 * GitHub API (requests validated against @octokit/openapi), `node dist/index.js`.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AGE_MAGIC } from '../src/capsule/age.js';
import { runBundledAction } from './helpers/action-process.js';
import { cli } from './helpers/cli.js';
import { useTestDatabase, withClient } from './helpers/db.js';
import { FakeGitHub } from './helpers/github-server.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/action/', import.meta.url));
/** The identity file `replay-env keygen` wrote (comments + AGE-SECRET-KEY-1…), as a CI secret holds it. */
let KEY = '';
let IDENTITY = '';
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
  const keyPath = join(keyDir, 'capsule.key');
  const kg = await cli(['keygen', '--out', keyPath, '--json']);
  if (kg.code !== 0) throw new Error(`keygen failed: ${kg.stderr}`);
  KEY = readFileSync(keyPath, 'utf8');
  IDENTITY = KEY.split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-1'))!;
  // The exporter only has the recipient.
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
      '--encrypt-to',
      JSON.parse(kg.stdout).recipient,
    ],
    { env: { REPLAY_CAPSULE_KEY: '', REPLAY_CAPSULE_KEY_FILE: '' } },
  );
  if (r.code !== 0) throw new Error(`export failed (${r.code}): ${r.stderr}`);
  const head = readFileSync(join(workspace, 'acme.json.gz.enc')).subarray(0, AGE_MAGIC.length);
  expect(head.equals(AGE_MAGIC)).toBe(true);
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

describe('the Action with an age-encrypted capsule', () => {
  it('input capsule-key (the identity file): materializes, judges; no line of the key leaks', {
    timeout: 120_000,
  }, async () => {
    const requestsBefore = gh.requests.length;
    const r = await run({ 'capsule-key': KEY });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.outputs.decision).toBe('continue');
    const trace = readFileSync(r.outputs['trace-path']!, 'utf8');
    expect(JSON.parse(trace).materialization.status).toBe('ok');
    expect(r.stdout).toMatch(/Capsule: file acme\.json\.gz\.enc .*\(encrypted\)/);
    // The identity line is registered with the runner's masker…
    expect(r.stdout).toContain(`::add-mask::${IDENTITY}\n`);
    // …and appears nowhere else.
    const log = r.stdout
      .split('\n')
      .filter((l) => !l.startsWith('::add-mask::'))
      .join('\n');
    const requests = JSON.stringify(gh.requests.slice(requestsBefore));
    expect(gh.requests.length).toBeGreaterThan(requestsBefore);
    for (const [where, text] of Object.entries({
      log,
      stderr: r.stderr,
      summary: r.summary,
      outputs: JSON.stringify(r.outputs),
      trace,
      requests,
    }))
      expect(text.includes(IDENTITY), `the identity in ${where}`).toBe(false);
  });

  it('env REPLAY_CAPSULE_KEY works too', { timeout: 120_000 }, async () => {
    const r = await run({}, { REPLAY_CAPSULE_KEY: IDENTITY });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.outputs.decision).toBe('continue');
  });

  it('no key, another identity, a malformed key: the step fails with a clear message', {
    timeout: 120_000,
  }, async () => {
    const none = await run({});
    expect(none.code).toBe(1);
    const noneErrors = none.commands.filter((c) => c.command === 'error').map((c) => c.message);
    expect(noneErrors.join('\n')).toMatch(
      /capsule is encrypted to 1 age recipient \(X25519\); set REPLAY_CAPSULE_KEY .*the capsule-key input/,
    );

    const otherKey = join(keyDir, 'other.key');
    const kg = await cli(['keygen', '--out', otherKey, '--json']);
    expect(kg.code).toBe(0);
    const wrong = await run({ 'capsule-key': readFileSync(otherKey, 'utf8') });
    expect(wrong.code).toBe(1);
    expect(wrong.commands.map((c) => c.message).join('\n')).toContain(
      `(recipient ${JSON.parse(kg.stdout).recipient}) is not one of them`,
    );

    const malformed = await run({ 'capsule-key': 'short' });
    expect(malformed.code).toBe(1);
    expect(malformed.commands.map((c) => c.message).join('\n')).toMatch(
      /input "capsule-key": expected an age identity/,
    );
  });
});
