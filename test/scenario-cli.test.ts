/**
 * `replay-env scenario add | list | remove` in a throwaway repository (its own registry, manifest,
 * capsules/ and golden/): an escaped bug becomes a scenario in one command — the subject exported
 * (safe, encrypted by default) into capsules/, the replay run and judged, the entry appended to the
 * registry with its comments kept, the golden blessed only on confirmation and never in CI; every
 * --json document is validated against its published schema; bad input is exit 2 naming the field
 * and leaves the repository as it was.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/main.js';
import { loadScenarios } from '../src/judge/loop.js';
import { freePort } from '../src/postgres/embedded.js';
import { cli, REPO_ROOT } from './helpers/cli.js';
import { useTestDatabase } from './helpers/db.js';

const db = useTestDatabase('scenario');
const EXAMPLE = join(REPO_ROOT, 'examples/socialapp');
const REGISTRY = 'loops/user-history-replay/scenarios.yaml';

const ajv = new Ajv2020({ allErrors: true, strict: false });
(
  ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (a: Ajv2020) => void
)(ajv);

function valid(stdout: string, schemaFile: string) {
  const doc = JSON.parse(stdout);
  const id = `https://replay-env.dev/schema/${schemaFile}`;
  const validate =
    ajv.getSchema(id) ?? ajv.compile(JSON.parse(readFileSync(join(REPO_ROOT, 'schema', schemaFile), 'utf8')));
  expect(validate(doc), `${schemaFile}: ${JSON.stringify(validate.errors)}`).toBe(true);
  // biome-ignore lint/suspicious/noExplicitAny: checked against the schema just above
  return doc as any;
}

/** A repository of the user's: the example manifest (own port), the shipped registry, .gitignore. */
async function userRepo(): Promise<{ repo: string; app: string; keyFile: string; recipient: string }> {
  const repo = mkdtempSync(join(tmpdir(), 'replay-scenario-'));
  const port = await freePort();
  const m = JSON.parse(
    readFileSync(join(REPO_ROOT, 'config/apps/socialapp.json'), 'utf8').replaceAll('4517', String(port)),
  );
  m.$schema = undefined;
  m.repoPath = EXAMPLE;
  m.golden = { dir: '../golden' };
  m.probes = m.probes.filter((p: { kind: string }) => p.kind !== 'browser');
  mkdirSync(join(repo, 'config'));
  writeFileSync(join(repo, 'config/socialapp.json'), JSON.stringify(m, null, 2));
  mkdirSync(join(repo, 'loops/user-history-replay'), { recursive: true });
  cpSync(join(REPO_ROOT, REGISTRY), join(repo, REGISTRY));
  writeFileSync(join(repo, '.gitignore'), 'capsules/**\n.replay/\n');
  const keyFile = join(repo, '..', `${repo.split('/').pop()}.key`);
  const kg = await cli(['keygen', '--out', keyFile, '--json']);
  expect(kg.code, kg.stderr).toBe(0);
  return { repo, app: 'config/socialapp.json', keyFile, recipient: JSON.parse(kg.stdout).recipient };
}

/** The CLI in `repo`, with a terminal that answers `answer` when asked (undefined: no terminal). */
async function inRepo(
  repo: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; answer?: boolean } = {},
): Promise<{ code: number; stdout: string; stderr: string; asked: string[] }> {
  let stdout = '';
  let stderr = '';
  const asked: string[] = [];
  const code = await runCli(args, {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    env: {
      ...process.env,
      CI: 'false',
      REPLAY_CAPSULE_KEY: undefined,
      REPLAY_CAPSULE_KEY_FILE: undefined,
      ...opts.env,
    },
    cwd: repo,
    isTTY: false,
    ...(opts.answer === undefined
      ? {}
      : {
          confirm: async (q: string) => {
            asked.push(q);
            return opts.answer!;
          },
        }),
  });
  return { code, stdout, stderr, asked };
}

let replayUrl = '';
beforeAll(async () => {
  await db.runFile(join(EXAMPLE, 'schema.sql'));
  await db.runFile(join(EXAMPLE, 'seed.sql'));
  replayUrl = await db.create('scenario_replay');
});

const addArgs = (app: string, id: string, extra: string[] = []) => [
  'scenario',
  'add',
  id,
  '--app',
  app,
  '--title',
  'the timeline of ada never shows another tenant',
  '--risk',
  'critical',
  '--bug',
  'https://github.com/acme/socialapp/issues/42',
  '--subject',
  'tenant_id=acme',
  '--subject',
  'user_id=ada',
  '--source-db-url',
  db.url,
  '--db-url',
  replayUrl,
  '--create-schema',
  '--replace-schema',
  ...extra,
];

describe('scenario add', () => {
  it('exports encrypted, replays, registers with the comments kept, blesses on confirmation', {
    timeout: 120_000,
  }, async () => {
    const { repo, app, keyFile, recipient } = await userRepo();
    const before = readFileSync(join(repo, REGISTRY), 'utf8');

    // Encrypted by default: without a recipient nothing runs (exit 2, the flag named).
    const noKey = await inRepo(repo, [...addArgs(app, 'ada-timeline'), '--json']);
    expect(noKey.code).toBe(2);
    expect(JSON.parse(noKey.stdout)).toMatchObject({ error: { code: 'bad_input', field: '--encrypt-to' } });
    expect(noKey.stderr).toMatch(/--encrypt-to age1/);
    expect(existsSync(join(repo, 'capsules'))).toBe(false);
    expect(readFileSync(join(repo, REGISTRY), 'utf8')).toBe(before);

    const env = { REPLAY_CAPSULE_KEY_FILE: keyFile };
    const r = await inRepo(repo, addArgs(app, 'ada-timeline', ['--encrypt-to', recipient]), {
      env,
      answer: true,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.asked).toHaveLength(1);
    expect(r.stdout).toMatch(
      /scenario ada-timeline: registered in loops\/user-history-replay\/scenarios.yaml/,
    );
    expect(r.stdout).toMatch(/golden: golden\/ada-timeline.golden.json written \(blessed\)/);
    expect(r.stdout).toMatch(
      /git add loops\/user-history-replay\/scenarios.yaml golden\/ada-timeline.golden.json/,
    );

    // The capsule: under capsules/, age-encrypted (never plaintext on disk).
    const capsule = join(repo, 'capsules/ada-timeline.json.gz.age');
    expect(readFileSync(capsule).subarray(0, 21).toString()).toBe('age-encryption.org/v1');

    // The registry: the old text (comments included) unchanged, the entry appended and loadable.
    const after = readFileSync(join(repo, REGISTRY), 'utf8');
    expect(after.startsWith(before.trimEnd())).toBe(true);
    const added = loadScenarios(join(repo, REGISTRY)).find((s) => s.id === 'ada-timeline');
    expect(added).toMatchObject({
      risk: 'critical',
      bug: 'https://github.com/acme/socialapp/issues/42',
      capsule: { path: 'capsules/ada-timeline.json.gz.age' },
      probes: ['health', 'private-timeline', 'users-in-replay'],
      golden: 'golden/ada-timeline.golden.json',
      requiredFor: ['merge', 'release'],
    });
    expect(added?.capsuleSha256).toMatch(/^[0-9a-f]{64}$/);
    const golden = JSON.parse(readFileSync(join(repo, 'golden/ada-timeline.golden.json'), 'utf8'));
    expect(golden.scenario).toBe('ada-timeline');

    // The same id again: exit 2 naming the registry and the entry; nothing changes.
    const again = await inRepo(
      repo,
      [...addArgs(app, 'ada-timeline', ['--encrypt-to', recipient]), '--json'],
      {
        env,
      },
    );
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(
      /scenarios\.yaml: scenarios\[1\]\.id: a scenario "ada-timeline" is already registered/,
    );
    expect(readFileSync(join(repo, REGISTRY), 'utf8')).toBe(after);

    // list shows it; remove takes it out and gives the registry back as it was, byte for byte.
    const list = valid(
      (await inRepo(repo, ['scenario', 'list', '--json'])).stdout,
      'scenario-list-output.schema.json',
    );
    expect(list.scenarios.map((s: { id: string }) => s.id)).toEqual([
      'subject-graph-materializes',
      'ada-timeline',
    ]);
    expect(list.scenarios[1]).toMatchObject({ goldenExists: true, capsuleExists: true });
    const removed = await inRepo(repo, ['scenario', 'remove', 'ada-timeline', '--json']);
    expect(removed.code, removed.stderr).toBe(0);
    const doc = valid(removed.stdout, 'scenario-remove-output.schema.json');
    expect(doc.next.join('\n')).toMatch(/git rm golden\/ada-timeline.golden.json/);
    expect(doc.next.join('\n')).toMatch(/rm capsules\/ada-timeline.json.gz.age/);
    expect(readFileSync(join(repo, REGISTRY), 'utf8')).toBe(before);
  });

  it('never blesses in CI, without a terminal, or unconfirmed; --json is one document of its schema', {
    timeout: 180_000,
  }, async () => {
    const { repo, app } = await userRepo();
    const unencrypted = ['--unencrypted'];
    const ci = await inRepo(repo, [...addArgs(app, 'in-ci', unencrypted), '--yes', '--json'], {
      env: { CI: 'true' },
    });
    expect(ci.code, ci.stderr).toBe(0);
    const doc = valid(ci.stdout, 'scenario-add-output.schema.json');
    expect(doc.golden).toMatchObject({ blessed: false, why: expect.stringMatching(/CI=true/) });
    expect(doc.capsule).toMatchObject({ path: 'capsules/in-ci.json.gz', encrypted: false, source: 'export' });
    expect(doc.commit).toEqual([REGISTRY]);
    expect(existsSync(join(repo, 'golden/in-ci.golden.json'))).toBe(false);

    // No terminal and no --yes: registered, not blessed, and told how to.
    const quiet = await inRepo(repo, [
      'scenario',
      'add',
      'from-capsule',
      '--app',
      app,
      '--title',
      't',
      '--risk',
      'low',
      '--capsule',
      'capsules/in-ci.json.gz',
      '--db-url',
      replayUrl,
      '--create-schema',
      '--replace-schema',
      '--artifact',
      'replay-capsule',
    ]);
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stdout).toMatch(/not blessed: nobody to confirm .*pass --yes/);
    expect(quiet.stdout).toMatch(
      /replay-env bless --trace \.replay\/scenarios\/from-capsule\/from-capsule.trace.json --golden golden --scenario from-capsule/,
    );
    const fromCapsule = loadScenarios(join(repo, REGISTRY)).find((s) => s.id === 'from-capsule');
    // An artifact capsule: no file pin (the artifact is another copy of it).
    expect(fromCapsule).toMatchObject({ capsule: { artifact: 'replay-capsule' } });
    expect(fromCapsule?.capsuleSha256).toBeUndefined();

    // Asked and declined: not blessed.
    const declined = await inRepo(repo, [...addArgs(app, 'declined', unencrypted)], { answer: false });
    expect(declined.code, declined.stderr).toBe(0);
    expect(declined.asked).toHaveLength(1);
    expect(existsSync(join(repo, 'golden/declined.golden.json'))).toBe(false);
  });

  it('bad input is exit 2 naming the field, before anything is exported or written', async () => {
    const { repo, app } = await userRepo();
    const before = readFileSync(join(repo, REGISTRY), 'utf8');
    const cases: [string[], RegExp, string][] = [
      [addArgs(app, 'Bad_Id', ['--unencrypted']), /<id>: must be lowercase/, '<id>'],
      [
        addArgs(app, 'x', ['--unencrypted', '--probe', 'nope']),
        /--probe "nope": not a probe of .*socialapp.json/,
        '--probe',
      ],
      [
        addArgs(app, 'x', ['--unencrypted', '--redaction', 'raw']),
        /--redaction raw needs encryption/,
        '--redaction',
      ],
      [addArgs(app, 'x', ['--unencrypted', '--bug', 'two\nlines']), /--bug: must be one line/, '--bug'],
      [
        addArgs(app, 'x', ['--unencrypted', '--scenarios-file', '../elsewhere.yaml']),
        /outside the repository/,
        '--scenarios-file',
      ],
      [
        addArgs(app, 'x', ['--unencrypted', '--capsule', 'c.json']),
        /--subject and --capsule are exclusive/,
        '--capsule',
      ],
    ];
    for (const [args, message, field] of cases) {
      const r = await inRepo(repo, [...args, '--json']);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(valid(r.stdout, 'cli-error.schema.json').error.field).toBe(field);
    }
    // A broken registry names its file and field.
    writeFileSync(join(repo, REGISTRY), `${before}  - id: broken\n`);
    const broken = await inRepo(repo, ['scenario', 'list']);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/scenarios\.yaml.*scenarios\[1\]\.title/);
    expect(existsSync(join(repo, 'capsules'))).toBe(false);
  });
});
