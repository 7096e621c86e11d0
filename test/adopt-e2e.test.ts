/**
 * docs/adopt.md, played as a new user in a fresh repository: init (draft the manifest from a
 * schema-only copy) → doctor → export from "production" → run on the embedded default → judge →
 * bless → judge against the golden → the pull-request gate through the bundled Action against the
 * local GitHub stand-in. Each step uses only what the doc tells the user to type.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/postgres/embedded.js';
import { runBundledAction } from './helpers/action-process.js';
import { cli, REPO_ROOT } from './helpers/cli.js';
import { useTestDatabase, withClient } from './helpers/db.js';
import { FakeGitHub } from './helpers/github-server.js';

const prod = useTestDatabase('adopt_prod');
const EXAMPLE = join(REPO_ROOT, 'examples/socialapp');
const gh = new FakeGitHub();
const repo = mkdtempSync(join(tmpdir(), 'adopt-repo-'));
const manifest = 'config/apps/shop.json';
let schemaOnly = '';

beforeAll(async () => {
  await gh.start();
  await prod.runFile(join(EXAMPLE, 'schema.sql'));
  await prod.runFile(join(EXAMPLE, 'seed.sql'));
  // "pg_dump --schema-only | psql": the schema alone, in a local database.
  schemaOnly = await prod.create('schema_only');
  await withClient(
    schemaOnly,
    async (c) => void (await c.query(readFileSync(join(EXAMPLE, 'schema.sql'), 'utf8'))),
  );
  // The adopter's app (here the example app: its server and migrations).
  cpSync(join(EXAMPLE, 'schema.sql'), join(repo, 'schema.sql'));
}, 120_000);

afterAll(async () => {
  await gh.stop();
});

const inRepo = (args: string[], env: NodeJS.ProcessEnv = {}) => cli(args, { cwd: repo, env });

describe('docs/adopt.md from an empty repository to a green gate', () => {
  it('init → doctor → export → run → judge → bless → gate', { timeout: 240_000 }, async () => {
    // 1. Draft the manifest from the schema.
    const init = await inRepo([
      'init',
      '--db-url',
      schemaOnly,
      '--subject-key',
      'tenant_id',
      '--subject-key',
      'user_id',
      '--out',
      manifest,
      '--json',
    ]);
    expect(init.code, init.stderr).toBe(0);
    const drafted = JSON.parse(init.stdout);
    const tableNames = drafted.tables.map((t: { name: string }) => t.name).sort();
    // users and reactions carry both keys; messages hangs off users by a foreign key.
    expect(tableNames).toEqual(['messages', 'reactions', 'users']);
    expect(drafted.redactions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ table: 'users', column: 'email', action: 'hash' }),
        expect.objectContaining({ table: 'users', column: 'api_token', action: 'null' }),
      ]),
    );
    // Running it again refuses to overwrite the user's edits.
    const again = await inRepo([
      'init',
      '--db-url',
      schemaOnly,
      '--subject-key',
      'tenant_id',
      '--out',
      manifest,
    ]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already exists; pass --force/);

    // 2. The user adds who else a subject pulls in (graph edges), their app's server and one
    // probe of the subject's private page.
    const port = await freePort();
    const m = JSON.parse(readFileSync(join(repo, manifest), 'utf8'));
    m.postgres.graphEdges = [
      "select m.tenant_id, m.recipient_user_id as user_id, 'messaged'::text as reason from messages m join params p on m.tenant_id = p.tenant_id and m.sender_user_id = p.user_id",
      "select m.tenant_id, m.sender_user_id as user_id, 'messaged_by'::text as reason from messages m join params p on m.tenant_id = p.tenant_id and m.recipient_user_id = p.user_id",
    ];
    m.repoPath = EXAMPLE;
    m.commands = [
      {
        name: 'app',
        run: 'node server.mjs',
        background: true,
        env: { PORT: String(port) },
        readyUrl: `http://127.0.0.1:${port}/health`,
        readyTimeoutSeconds: 30,
      },
    ];
    m.probes.push({
      name: 'timeline',
      kind: 'http',
      url: `http://127.0.0.1:${port}/api/timeline`,
      headers: { 'x-tenant-id': '{{subject.tenant_id}}', 'x-user-id': '{{subject.user_id}}' },
      expectStatus: 200,
    });
    m.golden = { dir: '../../golden/shop' };
    writeFileSync(join(repo, manifest), JSON.stringify(m, null, 2));

    // 3. doctor against the schema-only copy.
    const doctor = await inRepo(['doctor', '--app', manifest, '--db-url', schemaOnly, '--json']);
    expect(doctor.code, doctor.stdout + doctor.stderr).toBe(0);
    const validateDoctor = new Ajv2020({ strict: false }).compile(
      JSON.parse(readFileSync(join(REPO_ROOT, 'schema/doctor-output.schema.json'), 'utf8')),
    );
    expect(validateDoctor(JSON.parse(doctor.stdout)), JSON.stringify(validateDoctor.errors)).toBe(true);

    // 4. Export one customer from production (read-only; safe redaction by default).
    const exported = await inRepo(
      [
        'export-postgres',
        '--app',
        manifest,
        '--subject',
        'tenant_id=acme',
        '--subject',
        'user_id=ada',
        '--out',
        'capsules/ada.json',
        '--json',
      ],
      { SHOP_PROD_DATABASE_URL: prod.url },
    );
    expect(exported.code, exported.stderr).toBe(0);
    const rows = Object.fromEntries(
      JSON.parse(exported.stdout).tables.map((t: { name: string; rows: number }) => [t.name, t.rows]),
    );
    expect(rows.users).toBeGreaterThan(0);
    expect(rows.messages).toBeGreaterThan(0);

    // 5. Run on the embedded default (no database URL), 6. judge, 7. bless, 8. judge again.
    const ran = await inRepo(
      [
        'run',
        '--app',
        manifest,
        '--capsule',
        'capsules/ada.json',
        '--create-schema',
        '--trace-out',
        '.replay/trace.json',
      ],
      {
        SHOP_REPLAY_DATABASE_URL: '',
      },
    );
    expect(ran.code, ran.stderr).toBe(0);
    const judged = await inRepo(['judge', '--trace', '.replay/trace.json', '--app', manifest, '--json']);
    expect(JSON.parse(judged.stdout).decision, judged.stderr).toBe('continue');
    // Blessing is a local, reviewed step (bless refuses in CI).
    const blessed = await inRepo(['bless', '--trace', '.replay/trace.json', '--app', manifest], { CI: '' });
    expect(blessed.code, blessed.stderr).toBe(0);
    expect(existsSync(join(repo, 'golden/shop'))).toBe(true);
    const rejudged = await inRepo(['judge', '--trace', '.replay/trace.json', '--app', manifest, '--json']);
    const judgement = JSON.parse(rejudged.stdout);
    expect(judgement.decision).toBe('continue');
    expect(JSON.stringify(judgement.judges)).toMatch(/golden/);

    // 9. The gate: the Action on a pull request, against an empty service database.
    const service = await prod.create('adopt_service');
    const gate = await runBundledAction({
      inputs: {
        app: manifest,
        capsule: 'capsules/ada.json',
        'database-url': service,
        'github-token': 'ghs_test',
        'create-schema': 'true',
      },
      eventName: 'pull_request',
      payload: { action: 'opened', number: 3, pull_request: { number: 3, head: { sha: '3'.repeat(40) } } },
      apiUrl: gh.url,
      workspace: repo,
    });
    expect(gate.code, gate.stdout + gate.stderr).toBe(0);
    expect(gate.outputs.decision).toBe('continue');
    expect(gh.checkRuns.at(-1)?.conclusion).toBe('success');
    expect(gh.violations).toEqual([]);
  });
});
