/**
 * Leakage: capsule rows and secrets never reach places with a broader readership than the
 * access-controlled artifact. A capsule whose every column carries a unique canary (text, email,
 * a JSON field, an `sk_live_` token, a password hash, a number, the subject key) is replayed by the
 * bundled Action (one scenario that matches its golden, one that fails against it, so differences
 * are rendered) and by the CLI (`run`, then `judge` as text and Markdown), with secrets in the
 * environment (the GitHub token, the capsule key, the replay database's password). Every request
 * body sent to GitHub (check runs with annotations, comments), the job summary, the step outputs
 * and all stdout/stderr are scanned: none may contain a planted value. The trace and judgement
 * files (the artifact) do keep the values — the differences are still useful to whoever may read
 * the artifact.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fingerprinter } from '../src/judge/diff.js';
import { freePort } from '../src/postgres/embedded.js';
import { type ActionRun, runBundledAction } from './helpers/action-process.js';
import { writeTestCapsule } from './helpers/capsule-file.js';
import { cli } from './helpers/cli.js';
import { adminUrl, urlForDatabase, withClient } from './helpers/db.js';
import { FakeGitHub } from './helpers/github-server.js';

const APP = fileURLToPath(new URL('./fixtures/leakage/app.mjs', import.meta.url));
const tag = randomBytes(4).toString('hex');
const ROLE = `leak_${tag}`;
// Secrets in the environment.
const DB_PASSWORD = `pw-${tag}-Xq9vLr2m`;
const GITHUB_TOKEN = `ghs_${tag}Zx81Kp0qWm3nB7vC5dF2`;
const CAPSULE_KEY = randomBytes(32).toString('hex');
const SECRETS = [DB_PASSWORD, GITHUB_TOKEN, CAPSULE_KEY];

/** Planted values: one customer per capsule, a canary in every column. */
function customer(side: 'A' | 'B') {
  const c = `${tag}${side}`;
  return {
    account_id: `acct-canary-${c}`,
    name: `Canary Name ${c}`,
    email: `canary.${c}@example.test`,
    profile: { nickname: `canary-nick-${c}`, address: { city: `Canary City ${c}` } },
    api_key: `sk_live_${c}a1B2c3D4e5F6g7H8i9J0`,
    password_hash: `$2b$12$${c}CanaryHashSaltXYZabcdefghijklmnopqrstuvwx`,
    balance: side === 'A' ? '918273.64' : '546372.81',
    note: `canary note ${c}: call me back`,
  };
}
const A = customer('A');
const B = customer('B');
const PLANTED = [A, B].flatMap((c) => [
  c.account_id,
  c.name,
  c.email,
  c.profile.nickname,
  c.profile.address.city,
  c.api_key,
  c.password_hash,
  c.balance,
  c.note,
  // fragments a renderer could cut a value down to
  c.email.split('@')[0]!,
  c.api_key.slice(0, 20),
]);

const SCHEMA = `
create table customers (id bigint primary key, account_id text not null unique, name text not null,
  email text, profile jsonb, api_key text, password_hash text, balance numeric);
create table notes (id bigint primary key, account_id text not null references customers(account_id),
  body text not null);`;

function capsuleFor(c: typeof A) {
  return {
    app: 'leaky',
    subject: { account_id: c.account_id },
    graph: [{ account_id: c.account_id }],
    tables: {
      customers: [
        {
          id: 1,
          account_id: c.account_id,
          name: c.name,
          email: c.email,
          profile: c.profile,
          api_key: c.api_key,
          password_hash: c.password_hash,
          balance: c.balance,
        },
      ],
      notes: [{ id: 10, account_id: c.account_id, body: c.note }],
    },
  };
}

const gh = new FakeGitHub();
let workspace = '';
let port = 0;
const databases: string[] = [];

/** A fresh replay database owned by the role whose password is a planted secret. */
async function replayDatabase(): Promise<string> {
  const name = `leak_${randomBytes(5).toString('hex')}`;
  await withClient(adminUrl(), (c) => c.query(`create database "${name}" owner "${ROLE}"`));
  databases.push(name);
  const u = new URL(urlForDatabase(adminUrl(), name));
  u.username = ROLE;
  u.password = DB_PASSWORD;
  const url = u.toString();
  await withClient(url, (c) => c.query(SCHEMA));
  return url;
}

function manifest() {
  return {
    appId: 'leaky',
    adapter: 'postgres-subject-graph.v1',
    subjectKeys: ['account_id'],
    localSubject: { account_id: 'acct-local' },
    postgres: {
      tableOrder: ['customers', 'notes'],
      tables: [
        { name: 'customers', deletePredicate: 't.account_id = g.account_id' },
        { name: 'notes', deletePredicate: 't.account_id = g.account_id' },
      ],
    },
    commands: [
      {
        name: 'api',
        run: `exec node '${APP}' serve ${port}`,
        background: true,
        readyUrl: `http://127.0.0.1:${port}/health`,
        readyTimeoutSeconds: 20,
      },
    ],
    probes: [
      {
        name: 'customer',
        kind: 'http',
        url: `http://127.0.0.1:${port}/api/customer`,
        recordHeaders: ['x-customer-email'],
      },
      { name: 'card', kind: 'http', url: `http://127.0.0.1:${port}/api/card` },
      { name: 'printed', kind: 'command', command: `node '${APP}' print` },
      // What of the Action's own environment the app can see: none of its inputs or runner tokens.
      {
        name: 'action-env',
        kind: 'command',
        command: `node -e 'console.log(JSON.stringify(Object.keys(process.env).filter((k) => /^INPUT_|^ACTIONS_(RUNTIME|ID_TOKEN)/.test(k))))'`,
      },
      {
        name: 'rows',
        kind: 'sql',
        query: 'select name, email, profile, balance from customers order by id',
      },
      // A data error: Postgres quotes the offending value in its message.
      { name: 'bad-cast', kind: 'sql', query: 'select name::int from customers', allowFailure: true },
    ],
  };
}

/** Every place that is not the artifact, as text. */
function publicText(r: ActionRun, since: number): string {
  return [
    // `::add-mask::<value>` is consumed by the runner (it masks the value in every later log line)
    // and never shown.
    r.stdout.replace(/^::add-mask::.*$/gm, ''),
    r.stderr,
    r.summary,
    JSON.stringify(r.outputs),
    JSON.stringify(gh.requests.slice(since).map((q) => ({ path: q.path, query: q.query, body: q.body }))),
  ].join('\n');
}

function expectNoLeak(text: string, where: string): void {
  for (const v of [...PLANTED, ...SECRETS]) {
    const at = text.indexOf(v);
    expect(
      at,
      `${where} contains the planted value ${JSON.stringify(v)}: …${text.slice(Math.max(0, at - 300), at + 100)}…`,
    ).toBe(-1);
  }
}

function action(inputs: Record<string, string>, databaseUrl: string) {
  return runBundledAction({
    inputs: {
      app: 'leaky.manifest.json',
      'database-url': databaseUrl,
      'github-token': GITHUB_TOKEN,
      'capsule-key': CAPSULE_KEY,
      'scenarios-file': 'scenarios.yaml',
      'golden-dir': 'golden',
      ...inputs,
    },
    eventName: 'pull_request',
    payload: { action: 'synchronize', number: 5, pull_request: { number: 5, head: { sha: 'a'.repeat(40) } } },
    apiUrl: gh.url,
    workspace,
    env: { GITHUB_TOKEN, DATABASE_URL: databaseUrl, REPLAY_CAPSULE_KEY: CAPSULE_KEY },
  });
}

beforeAll(async () => {
  await gh.start();
  port = await freePort();
  workspace = mkdtempSync(join(tmpdir(), 'leakage-ws-'));
  await withClient(adminUrl(), (c) => c.query(`create role "${ROLE}" login password '${DB_PASSWORD}'`));
  writeFileSync(join(workspace, 'leaky.manifest.json'), JSON.stringify(manifest(), null, 2));
  writeTestCapsule(join(workspace, 'a.capsule.json'), capsuleFor(A));
  writeTestCapsule(join(workspace, 'b.capsule.json'), capsuleFor(B));
  // Both scenarios replay as the local subject, so the app finds "its" customer; `differs` is
  // judged against the golden blessed from `matches`.
  writeFileSync(
    join(workspace, 'scenarios.yaml'),
    [
      'version: 1',
      'scenarios:',
      '  - id: matches',
      '    title: the capsule the golden was blessed from',
      '    risk: high',
      '    capsule: a.capsule.json',
      '    subjectRewrite: { account_id: acct-local }',
      '    maxDurationSeconds: 300',
      '  - id: differs',
      '    title: another customer, judged against the same golden',
      '    risk: high',
      '    capsule: b.capsule.json',
      '    subjectRewrite: { account_id: acct-local }',
      '    golden: golden/matches.golden.json',
      '    maxDurationSeconds: 300',
    ].join('\n'),
  );
  mkdirSync(join(workspace, 'golden'));
}, 60_000);

afterAll(async () => {
  await gh.stop();
  await withClient(adminUrl(), async (c) => {
    for (const d of databases) await c.query(`drop database if exists "${d}" with (force)`);
    await c.query(`drop role if exists "${ROLE}"`);
  });
  rmSync(workspace, { recursive: true, force: true });
});

describe('rendered outputs never carry capsule values or secrets', () => {
  it('the Action: a scenario matching its golden and one failing against it', async () => {
    // 1. A first replay of `matches`, blessed into the golden.
    let since = gh.requests.length;
    const first = await action({ scenario: 'matches', 'check-name': 'leak first' }, await replayDatabase());
    expect(first.code, first.stdout + first.stderr).toBe(0);
    expectNoLeak(publicText(first, since), 'the first run');
    const bless = await cli(
      ['bless', '--trace', first.outputs['trace-path']!, '--golden', join(workspace, 'golden'), '--force'],
      { cwd: workspace },
    );
    expect(bless.code, bless.stderr).toBe(0);
    expectNoLeak(bless.stdout + bless.stderr, 'bless');
    // `differs` replays another customer's capsule: against a golden bound to its capsule that is
    // reported as "capsule differs" without comparing. To render value differences (what this
    // test is about), the golden is made an older, unbound one, which is compared whatever the capsule.
    const goldenFile = join(workspace, 'golden', 'matches.golden.json');
    const blessed = JSON.parse(readFileSync(goldenFile, 'utf8'));
    expect(blessed.provenance.capsule).toBeDefined();
    delete blessed.provenance.capsule;
    writeFileSync(goldenFile, `${JSON.stringify(blessed, null, 2)}\n`);
    // The golden itself holds capsule values (it is committed and reviewed like code).
    expect(readFileSync(join(workspace, 'golden', 'matches.golden.json'), 'utf8')).toContain(A.name);

    // 2. Both scenarios in one step: one matches, one differs (rendered differences).
    since = gh.requests.length;
    const r = await action({ scenarios: 'all' }, await replayDatabase());
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.outputs.decision).toBe('block');
    const judgements = r.outputs['judgement-path']!.split('\n').map((p) =>
      JSON.parse(readFileSync(p, 'utf8')),
    );
    const matches = judgements.find((j) => j.scenario === 'matches');
    const differs = judgements.find((j) => j.scenario === 'differs');
    expect(matches.judges.find((j: { id: string }) => j.id === 'golden-match').verdict).toBe('pass');
    expect(differs.decision).toBe('block');
    const paths = differs.differences.map((d: { probe: string; path: string }) => `${d.probe} ${d.path}`);
    expect(paths).toEqual(
      expect.arrayContaining([
        'customer $.json.customer.name',
        'customer $.json.customer.email',
        'customer $.json.customer.profile.nickname',
        'customer $.headers.x-customer-email',
        'card $.text',
        'printed $.stdout',
      ]),
    );
    expect(paths.some((p: string) => p.startsWith('rows $.sql.rows'))).toBe(true);

    // What the public surfaces got: paths, kinds of change, fingerprints — no values.
    const check = gh.checkRuns.find((c) => c.name === 'replay-env / leaky / differs')!;
    expect(check.conclusion).toBe('failure');
    expect(check.annotations.length).toBeGreaterThan(0);
    expect(check.output.summary).toContain('$.json.customer.name');
    expect(check.output.summary).toMatch(
      /\| changed \| `string\(\d+\) #[0-9a-f]{8}` \| `string\(\d+\) #[0-9a-f]{8}` \|/,
    );
    const comment = gh.commentsOn(5).find((c) => c.body.includes('differs'));
    expect(comment?.body).toContain('$.json.customer.email');
    expectNoLeak(publicText(r, since), 'the step with both scenarios');
    expectNoLeak(JSON.stringify(gh.checkRuns) + JSON.stringify(gh.comments), 'check runs and comments');

    // The artifact (judgement JSON) keeps the values for whoever may read it.
    const name = differs.differences.find((d: { path: string }) => d.path === '$.json.customer.name');
    expect(name).toMatchObject({ golden: JSON.stringify(A.name), actual: JSON.stringify(B.name) });
    // The planted secrets never even reach the trace: masked by field name and by the scanner.
    const trace = readFileSync(differs.trace.path, 'utf8');
    expect(trace).toContain(B.email);
    const actionEnv = JSON.parse(trace).events.find((e: { name: string }) => e.name === 'action-env');
    expect(actionEnv?.ok).toBe(true);
    expect(JSON.parse(actionEnv.command.stdoutTail)).toEqual([]);
    for (const secret of [B.api_key, B.password_hash, DB_PASSWORD, GITHUB_TOKEN, CAPSULE_KEY])
      expect(trace).not.toContain(secret);
  }, 180_000);

  it('the CLI: run, then judge as text and Markdown', async () => {
    const url = await replayDatabase();
    const dir = mkdtempSync(join(tmpdir(), 'leakage-cli-'));
    // The CLI run has no scenario: its golden is default.golden.json.
    const golden = join(dir, 'golden');
    mkdirSync(golden);
    writeFileSync(
      join(golden, 'default.golden.json'),
      readFileSync(join(workspace, 'golden', 'matches.golden.json')),
    );
    const env = { DATABASE_URL: url, GITHUB_TOKEN, REPLAY_CAPSULE_KEY: CAPSULE_KEY };
    try {
      const trace = join(dir, 'run.trace.json');
      const run = await cli(
        [
          'run',
          '--app',
          join(workspace, 'leaky.manifest.json'),
          '--capsule',
          join(workspace, 'b.capsule.json'),
          '--db-url',
          url,
          '--use-local-subject',
          '--trace-out',
          trace,
        ],
        { env, cwd: workspace },
      );
      expect(run.code, run.stderr).toBe(0);
      // The failing data-error probe is reported, without the value Postgres quoted.
      expect(run.stderr).toMatch(/WARN sql probe bad-cast .*invalid input syntax for type integer: "…"/);
      expectNoLeak(run.stdout + run.stderr, '`run`');
      for (const format of ['text', 'markdown'] as const) {
        const judge = await cli(['judge', '--trace', trace, '--golden', golden, '--format', format], {
          env,
          cwd: workspace,
        });
        expect(judge.code, judge.stderr).toBe(1);
        expect(judge.stdout).toContain('$.json.customer.name');
        expectNoLeak(judge.stdout + judge.stderr, `judge --format ${format}`);
      }
      // Opt-in, for a private terminal: the values themselves.
      const shown = await cli(['judge', '--trace', trace, '--golden', golden, '--show-values'], {
        env,
        cwd: workspace,
      });
      expect(shown.stdout).toContain(B.name);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('fingerprints', () => {
  it('show type and size, match equal values within one key, and cannot be looked up by guessing', () => {
    const f = fingerprinter();
    const email = 'ada@example.test';
    expect(f(email)).toMatch(/^string\(16\) #[0-9a-f]{8}$/);
    expect(f(email)).toBe(f(email));
    expect(f(email)).not.toBe(f('ada@example.tesT'));
    expect(f(42)).toMatch(/^number #[0-9a-f]{8}$/);
    expect(f(42)).not.toBe(f('42'));
    expect([f(null), f([1, 2]), f({ a: 1 })]).toEqual(['null', 'array(2)', 'object(1 keys)']);
    // Keyed: another report (another key) gives another fingerprint, and a plain hash of the
    // guessed value is no match.
    expect(fingerprinter()(email)).not.toBe(f(email));
    const plain = createHash('sha256').update(email).digest('hex');
    expect(f(email)).not.toContain(plain.slice(0, 8));
  });
});
