/**
 * A scripted coding agent: export → inspect → materialize → run → judge, each step driven only by
 * the previous step's --json output (and exit codes 0/1/2), as docs/agents.md tells agents to do.
 * `run` uses the embedded default (no --db-url, no env var).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { freePort } from '../src/postgres/embedded.js';
import { cli, REPO_ROOT } from './helpers/cli.js';
import { useTestDatabase } from './helpers/db.js';

const db = useTestDatabase('agent');
const EXAMPLE = join(REPO_ROOT, 'examples/socialapp');
const dir = mkdtempSync(join(tmpdir(), 'replay-agent-'));

/** The example manifest on a free port (other tests may run the example app at the same time). */
async function agentManifest(): Promise<string> {
  const port = await freePort();
  const text = readFileSync(join(REPO_ROOT, 'config/apps/socialapp.json'), 'utf8').replaceAll(
    '4517',
    String(port),
  );
  const m = JSON.parse(text);
  m.$schema = undefined;
  m.repoPath = EXAMPLE;
  m.golden = { dir: join(dir, 'golden') };
  m.probes = m.probes.filter((p: { kind: string }) => p.kind !== 'browser');
  const path = join(dir, 'socialapp.json');
  writeFileSync(path, JSON.stringify(m, null, 2));
  return path;
}

const ajv = new Ajv2020({ allErrors: true, strict: false });
(
  ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (a: Ajv2020) => void
)(ajv);

/** The stdout document, validated against the published schema docs/agents.md names for it. */
function parsed(step: string, stdout: string, schemaFile: string) {
  let doc: unknown;
  try {
    doc = JSON.parse(stdout);
  } catch {
    throw new Error(`${step}: stdout is not JSON: ${stdout.slice(0, 300)}`);
  }
  const id = `https://replay-env.dev/schema/${schemaFile}`;
  const validate =
    ajv.getSchema(id) ?? ajv.compile(JSON.parse(readFileSync(join(REPO_ROOT, 'schema', schemaFile), 'utf8')));
  expect(validate(doc), `${step} against schema/${schemaFile}: ${JSON.stringify(validate.errors)}`).toBe(
    true,
  );
  // biome-ignore lint/suspicious/noExplicitAny: checked against the schema just above
  return doc as any;
}

function json(step: string, r: { code: number; stdout: string; stderr: string }, schemaFile: string) {
  expect(r.code, `${step} exit code; stderr: ${r.stderr}`).toBe(0);
  return parsed(step, r.stdout, schemaFile);
}

const failure = (step: string, r: { stdout: string }) => parsed(step, r.stdout, 'cli-error.schema.json');

describe('a coding agent drives the loop through --json', () => {
  it('exports, inspects, materializes, runs on the embedded default and judges', {
    timeout: 120_000,
  }, async () => {
    await db.runFile(join(EXAMPLE, 'schema.sql'));
    await db.runFile(join(EXAMPLE, 'seed.sql'));
    const app = await agentManifest();

    // Bad input is exit 2 with a one-line reason on stderr and one JSON error document on stdout.
    const bad = await cli([
      'export-postgres',
      '--app',
      app,
      '--out',
      join(dir, 'x.json'),
      '--db-url',
      db.url,
      '--json',
    ]);
    expect(bad.code).toBe(2);
    expect(failure('export without a subject', bad)).toMatchObject({
      error: { code: 'bad_input', field: '--subject' },
      exitCode: 2,
    });
    expect(bad.stderr).toMatch(/missing subject: --subject tenant_id=<value> --subject user_id=<value>/);

    const exported = json(
      'export',
      await cli([
        'export-postgres',
        '--app',
        app,
        '--subject',
        'tenant_id=acme',
        '--subject',
        'user_id=ada',
        '--out',
        join(dir, 'ada.json'),
        '--db-url',
        db.url,
        '--json',
      ]),
      'export-output.schema.json',
    );
    expect(exported.closure.reduce((n: number, c: { rows: number }) => n + c.rows, 0)).toBe(5);
    expect(exported.warnings).toEqual([]);

    const inspected = json(
      'inspect',
      await cli(['inspect', exported.path, '--json']),
      'inspect-output.schema.json',
    );
    // The same shapes in export and inspect: per-table rows, closure and the graph's size.
    expect(inspected.tables).toEqual(exported.tables);
    expect(inspected.totalRows).toBe(exported.totalRows);
    expect(inspected.closure).toEqual(exported.closure);
    expect(inspected.graph.subjects).toBe(exported.graph.subjects);
    expect(inspected.file.sha256).toBe(exported.sha256);
    expect(inspected.subject).toEqual({ tenant_id: 'acme', user_id: 'ada' });
    const closure = Object.fromEntries(
      inspected.closure.map((c: { name: string; rows: number; reasons: Record<string, number> }) => [
        c.name,
        c,
      ]),
    );
    expect(closure.workspaces).toEqual({
      name: 'workspaces',
      rows: 3,
      reasons: { 'fk:users_workspace_id_fkey': 3 },
    });

    const target = await db.create('agent_target');
    const materialized = json(
      'materialize',
      await cli([
        'materialize-postgres',
        '--app',
        app,
        '--capsule',
        inspected.file.path,
        '--db-url',
        target,
        '--create-schema',
        '--json',
      ]),
      'materialize-output.schema.json',
    );
    expect(materialized.status).toBe('ok');
    expect(materialized.schemaSource).toBe('capsule');
    for (const t of materialized.tables) expect(t.database, t.name).toBe(t.capsule);
    expect(
      materialized.tables.map((t: { name: string; rows: number }) => ({ name: t.name, rows: t.rows })),
    ).toEqual(inspected.tables);
    expect(materialized.closure.map((c: { name: string; rows: number }) => [c.name, c.rows])).toEqual(
      inspected.closure.map((c: { name: string; rows: number }) => [c.name, c.rows]),
    );
    // Loading it again into the same database is refused: the tables exist (exit 1, not 2).
    const again = await cli([
      'materialize-postgres',
      '--app',
      app,
      '--capsule',
      exported.path,
      '--db-url',
      target,
      '--create-schema',
      '--json',
    ]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already has .*--replace-schema/);
    expect(failure('materialize again', again).error).toMatchObject({ code: 'failed' });

    // run with no --db-url and no SOCIALAPP_REPLAY_DATABASE_URL: the embedded default.
    const tracePath = join(dir, 'trace.json');
    const ran = await cli(
      [
        'run',
        '--app',
        app,
        '--capsule',
        inspected.file.path,
        '--create-schema',
        '--trace-out',
        tracePath,
        '--json',
      ],
      { env: { SOCIALAPP_REPLAY_DATABASE_URL: '' } },
    );
    expect(ran.stderr).toMatch(/using a throwaway embedded PostgreSQL/);
    const trace = json('run', ran, 'trace.schema.json');
    expect(trace.kind).toBe('replay-env.trace');
    expect(trace.materialization.status).toBe('ok');
    expect(trace.gate.decision).toBe('continue');

    // … or against the database step 3 loaded, without loading it again (docs/agents.md step 4b).
    const kept = json(
      'run on the loaded database',
      await cli([
        'run',
        '--app',
        app,
        '--capsule',
        inspected.file.path,
        '--db-url',
        target,
        '--skip-materialize',
        '--trace-out',
        join(dir, 'trace-kept.json'),
        '--json',
      ]),
      'trace.schema.json',
    );
    expect(kept.gate.decision).toBe('continue');

    const judged = json(
      'judge',
      await cli(['judge', '--trace', tracePath, '--app', app, '--format', 'json']),
      'judgement.schema.json',
    );
    expect(judged.kind).toBe('replay-env.judgement');
    expect(judged.decision).toBe('continue');
  });
});
