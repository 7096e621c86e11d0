/**
 * run → judge → bless → run → judge on the fixture app (real Postgres, real HTTP server), then a
 * changed app response is blocked by the golden.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  baseEnv,
  createFixtureSchema,
  fixtureManifest,
  freePort,
  serverCommand,
  tempDir,
  writeManifest,
} from './fixtures/app/harness.js';
import { cli } from './helpers/cli.js';
import { useTestDatabase } from './helpers/db.js';

const db = useTestDatabase('judge_e2e');
const tmp = tempDir('replay-judge-e2e-');

beforeAll(async () => {
  await createFixtureSchema(db);
});
afterAll(() => tmp.cleanup());

async function run(name: string, capsulePath: string, manifestPath: string, expectCode = 0) {
  const traceOut = join(tmp.dir, `${name}.trace.json`);
  const r = await cli(
    ['run', '--app', manifestPath, '--capsule', capsulePath, '--db-url', db.url, '--trace-out', traceOut],
    { env: baseEnv() as Record<string, string> },
  );
  expect(r.code, r.stderr).toBe(expectCode);
  return traceOut;
}

describe('run → judge → bless → run → judge', () => {
  it('a second run of the same build continues against the golden; a changed response blocks', async () => {
    const port = await freePort();
    const capsulePath = join(tmp.dir, 'alice.capsule.json');
    writeFileSync(
      capsulePath,
      JSON.stringify({
        schemaVersion: 1,
        app: 'fixture',
        adapter: 'postgres-subject-graph.v1',
        subject: { user_id: 'u-alice' },
        graph: [
          { user_id: 'u-alice', reasons: ['subject'] },
          { user_id: 'u-bob', reasons: ['follows'] },
        ],
        redaction: 'safe',
        tables: {
          users: [
            { id: 'u-alice', name: 'Alice' },
            { id: 'u-bob', name: 'Bob' },
          ],
          posts: [
            {
              id: 2,
              user_id: 'u-alice',
              body: 'second',
              amount: 2.5,
              meta: null,
              created_at: '2026-01-02T03:04:05Z',
            },
          ],
        },
      }),
    );
    const probes = (userPath: string) => [
      { name: 'health', kind: 'http', url: `http://127.0.0.1:${port}/api/health`, expectStatus: 200 },
      { name: 'timeline', kind: 'http', url: `http://127.0.0.1:${port}/api${userPath}/timeline` },
      { name: 'posts', kind: 'sql', query: "select id, body from posts where user_id = 'u-alice'" },
    ];
    const manifest = (userPath: string) =>
      fixtureManifest({
        commands: [serverCommand(port, join(tmp.dir, 'pid'))],
        probes: probes(userPath),
        golden: { dir: 'golden' },
      });
    const manifestPath = writeManifest(tmp.dir, manifest('/users/u-alice'), 'fixture.json');

    const first = await run('first', capsulePath, manifestPath);
    const j1 = await cli(['judge', '--trace', first, '--app', manifestPath, '--format', 'json']);
    expect(j1.code, j1.stdout + j1.stderr).toBe(0);
    const judgement1 = JSON.parse(j1.stdout);
    expect(judgement1.judges.find((j: { id: string }) => j.id === 'golden-match').verdict).toBe('skip');
    expect(judgement1.judges.find((j: { id: string }) => j.id === 'materialization-integrity').verdict).toBe(
      'pass',
    );

    const blessed = await cli(['bless', '--trace', first, '--app', manifestPath], { env: { CI: 'false' } });
    expect(blessed.code, blessed.stderr).toBe(0);
    expect(blessed.stdout).toContain(join(tmp.dir, 'golden'));

    const second = await run('second', capsulePath, manifestPath);
    const j2 = await cli(['judge', '--trace', second, '--app', manifestPath, '--format', 'json']);
    const judgement2 = JSON.parse(j2.stdout);
    expect(judgement2.differences).toEqual([]);
    expect(judgement2.judges.find((j: { id: string }) => j.id === 'golden-match').verdict).toBe('pass');
    expect(j2.code).toBe(0);
    expect(judgement1.decision).toBe('continue');
    expect(judgement2.decision).toBe('continue');

    // The "fix" breaks the timeline: the app now answers 404 for it.
    writeManifest(tmp.dir, manifest('/users/u-nobody'), 'fixture.json');
    const third = await run('third', capsulePath, manifestPath, 1); // the run's own gate blocks too
    const j3 = await cli(['judge', '--trace', third, '--app', manifestPath]);
    expect(j3.code).toBe(1);
    expect(j3.stdout).toMatch(/decision: BLOCK/);
    expect(j3.stdout).toContain('timeline $.status status: 200 → 404');
    // …and a blocked run can never become the golden.
    const refused = await cli(['bless', '--trace', third, '--app', manifestPath], { env: { CI: 'false' } });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/own gate is block/);
  });
});
