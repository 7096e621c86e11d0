/**
 * The capsule's own promises, checked where a user meets them: the whole-capsule content hash
 * binds subject, graph and tables; an unknown subject is an error, not an empty passing replay;
 * a capsule that does not say how it was redacted loads as raw, with a warning; and `run` decides
 * exactly as `judge` does on the same trace.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli, REPO_ROOT } from './helpers/cli.js';
import { useTestDatabase } from './helpers/db.js';
import { databaseChecksum } from './helpers/db-checksum.js';

const db = useTestDatabase('contract');
const EXAMPLE = join(REPO_ROOT, 'examples/socialapp');
const APP = join(REPO_ROOT, 'config/apps/socialapp.json');
const dir = mkdtempSync(join(tmpdir(), 'replay-contract-'));
let capsule = '';
let target = '';

function exportSubject(tenant: string, user: string, out: string, extra: string[] = []) {
  return cli([
    'export-postgres',
    '--app',
    APP,
    '--subject',
    `tenant_id=${tenant}`,
    '--subject',
    `user_id=${user}`,
    '--db-url',
    db.url,
    '--out',
    out,
    ...extra,
  ]);
}

beforeAll(async () => {
  await db.runFile(join(EXAMPLE, 'schema.sql'));
  await db.runFile(join(EXAMPLE, 'seed.sql'));
  capsule = join(dir, 'ada.json');
  const r = await exportSubject('acme', 'ada', capsule);
  if (r.code !== 0) throw new Error(r.stderr);
  target = await db.create('contract_target');
  const { withClient } = await import('./helpers/db.js');
  await withClient(
    target,
    async (c) => void (await c.query(readFileSync(join(EXAMPLE, 'schema.sql'), 'utf8'))),
  );
}, 120_000);

const materialize = (file: string) =>
  cli(['materialize-postgres', '--app', APP, '--capsule', file, '--db-url', target]);

describe('integrity.contentSha256', () => {
  it('a capsule whose graph was edited after export is refused before anything is loaded', async () => {
    const text = readFileSync(capsule, 'utf8');
    // Widen the graph's reasons (the rows and their hashes untouched): the content hash no longer fits.
    const edited = text.replace('"reasons":["subject"]', '"reasons":["subject","support_override"]');
    expect(edited).not.toBe(text);
    const file = join(dir, 'edited-graph.json');
    writeFileSync(file, edited);
    const before = await databaseChecksum(target);
    const r = await materialize(file);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/integrity\.contentSha256 does not match .*changed after export/);
    expect(await databaseChecksum(target)).toEqual(before);
    // The untouched capsule loads.
    const ok = await materialize(capsule);
    expect(ok.code, ok.stderr).toBe(0);
  });
});

describe('empty subject', () => {
  it('an unknown subject fails the export (exit 1, no file) unless --allow-empty', async () => {
    const out = join(dir, 'nobody.json');
    const r = await exportSubject('acme', 'nobody', out);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/has no rows in any declared table.*--allow-empty/s);
    expect(existsSync(out)).toBe(false);
    const allowed = await exportSubject('acme', 'nobody', out, ['--allow-empty']);
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(existsSync(out)).toBe(true);
  });
});

describe('a capsule without "redaction"', () => {
  it('loads as raw with a warning, and inspect says it was assumed', async () => {
    // The exporter's capsule with its "redaction" line removed (and no integrity record to bind it).
    const lines = readFileSync(capsule, 'utf8').split('\n');
    const kept = lines.filter((l) => !/^\s*"redaction":/.test(l) && !/^\s*"integrity":/.test(l));
    const file = join(dir, 'no-redaction.json');
    writeFileSync(file, kept.join('\n'));
    const inspected = await cli(['inspect', file]);
    expect(inspected.code, inspected.stderr).toBe(0);
    expect(inspected.stdout).toMatch(/redaction: raw \(assumed: the capsule does not say\)/);
    const r = await materialize(file);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: the capsule does not say how it was redacted .*treated as raw/);
  });
});

describe('run decides as judge does', () => {
  it('a graph without related users: run says WARN, like judge on its trace', {
    timeout: 120_000,
  }, async () => {
    const m = JSON.parse(readFileSync(APP, 'utf8'));
    m.$schema = undefined;
    m.repoPath = EXAMPLE;
    m.postgres.graphEdges = [];
    m.probes = m.probes.filter((p: { kind: string }) => p.kind === 'sql');
    m.commands = [];
    m.golden = { dir: join(dir, 'golden') };
    const app = join(dir, 'lonely.json');
    writeFileSync(app, JSON.stringify(m, null, 2));
    const lonely = join(dir, 'lonely-capsule.json');
    const ex = await cli([
      'export-postgres',
      '--app',
      app,
      '--subject',
      'tenant_id=acme',
      '--subject',
      'user_id=ada',
      '--db-url',
      db.url,
      '--out',
      lonely,
    ]);
    expect(ex.code, ex.stderr).toBe(0);
    const tracePath = join(dir, 'lonely.trace.json');
    const ran = await cli(
      ['run', '--app', app, '--capsule', lonely, '--create-schema', '--trace-out', tracePath],
      {
        env: { SOCIALAPP_REPLAY_DATABASE_URL: '' },
      },
    );
    const judged = await cli(['judge', '--trace', tracePath, '--app', app, '--json']);
    const decision = JSON.parse(judged.stdout).decision;
    expect(decision).toBe('warn');
    expect(ran.stdout).toMatch(/gate WARN/);
    expect(ran.code).toBe(0);
  });
});

describe('the example app: loading its capsule twice', () => {
  it('into a fresh copy of its schema gives identical table checksums (closure rows reference graph rows)', async () => {
    const fresh = await db.create('contract_twice');
    const { withClient } = await import('./helpers/db.js');
    await withClient(
      fresh,
      async (c) => void (await c.query(readFileSync(join(EXAMPLE, 'schema.sql'), 'utf8'))),
    );
    const load = () => cli(['materialize-postgres', '--app', APP, '--capsule', capsule, '--db-url', fresh]);
    const first = await load();
    expect(first.code, first.stderr).toBe(0);
    const once = await databaseChecksum(fresh);
    const second = await load();
    expect(second.code, second.stderr).toBe(0);
    expect(await databaseChecksum(fresh)).toEqual(once);
  });

  it('into an empty database without --create-schema names the flag', async () => {
    const empty = await db.create('contract_empty');
    const r = await cli(['materialize-postgres', '--app', APP, '--capsule', capsule, '--db-url', empty]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--create-schema/);
  });
});
