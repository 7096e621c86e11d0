/**
 * A capsule's schema section is untrusted SQL (anyone can forge a capsule, encrypted ones too).
 * Nothing in it runs as given: applying it needs --create-schema (or the Action's create-schema
 * input), its hash must match integrity.schemaSha256, and every statement is parsed with
 * PostgreSQL's parser and allow-listed (src/postgres/schema/sql-guard.ts). Each forged capsule
 * below would have run a shell command or a server-side query on the database host before.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { schemaSectionHash } from '../../src/capsule/integrity.js';
import { parseExact, stringifyExact } from '../../src/util/exact-json.js';
import { cli, REPO_ROOT } from '../helpers/cli.js';
import { useTestDatabase, withClient } from '../helpers/db.js';
import { expectCleanFailure } from './harness.js';

const db = useTestDatabase('schema_sql');
const EXAMPLE = join(REPO_ROOT, 'examples/socialapp');
const dir = mkdtempSync(join(tmpdir(), 'schema-sql-'));
const marker = join(dir, 'pwned');
let app: string;
let capsule: string;

// biome-ignore lint/suspicious/noExplicitAny: a forged capsule is edited freely
type Header = Record<string, any>;

/** Write a copy of the exported capsule with `edit` applied; `rehash` recomputes schemaSha256 as a forger would. */
function forged(name: string, edit: (h: Header) => void, rehash = true): string {
  const doc = parseExact(readFileSync(capsule, 'utf8')) as Header;
  edit(doc);
  if (rehash) doc.integrity.schemaSha256 = schemaSectionHash(doc.schema);
  const path = join(dir, `${name}.json`);
  writeFileSync(path, stringifyExact(doc));
  return path;
}

async function tablesIn(url: string): Promise<number> {
  return withClient(url, async (c) => {
    const r = await c.query<{ n: number }>(
      "select count(*)::int as n from pg_class where relnamespace = 'public'::regnamespace and relkind in ('r','p')",
    );
    return r.rows[0]!.n;
  });
}

async function materializeCreating(path: string) {
  const target = await db.create('target');
  const r = await cli([
    'materialize-postgres',
    '--app',
    app,
    '--capsule',
    path,
    '--db-url',
    target,
    '--create-schema',
  ]);
  return { r, target };
}

const COPY_TO_PROGRAM = `; COPY (select 1) TO PROGRAM 'touch ${marker}'`;

beforeAll(async () => {
  await db.runFile(join(EXAMPLE, 'schema.sql'));
  await db.runFile(join(EXAMPLE, 'seed.sql'));
  const m = JSON.parse(readFileSync(join(REPO_ROOT, 'config/apps/socialapp.json'), 'utf8'));
  m.$schema = undefined;
  m.repoPath = EXAMPLE;
  m.setup = [];
  m.probes = m.probes.filter((p: { kind: string }) => p.kind === 'sql');
  app = join(dir, 'socialapp.json');
  writeFileSync(app, JSON.stringify(m, null, 2));
  capsule = join(dir, 'ada.json');
  const r = await cli([
    'export-postgres',
    '--app',
    app,
    '--subject',
    'tenant_id=acme',
    '--subject',
    'user_id=ada',
    '--out',
    capsule,
    '--db-url',
    db.url,
  ]);
  if (r.code !== 0) throw new Error(`export failed: ${r.stderr}`);
}, 120_000);

describe('capsule schema SQL is parsed and allow-listed before anything runs', () => {
  it('the exported capsule records the schema hash and materializes with --create-schema', async () => {
    const doc = parseExact(readFileSync(capsule, 'utf8')) as Header;
    expect(doc.integrity.schemaSha256).toBe(schemaSectionHash(doc.schema));
    const { r, target } = await materializeCreating(capsule);
    expect(r.code, r.stderr).toBe(0);
    expect(await tablesIn(target)).toBeGreaterThan(0);
  });

  it('a stacked COPY … TO PROGRAM after types[0].create is refused (exit 2), no shell command runs', async () => {
    const path = forged('copy-program', (h) => {
      h.schema.types[0].create += COPY_TO_PROGRAM;
    });
    const { r, target } = await materializeCreating(path);
    expectCleanFailure(r, { code: 2, file: path, problem: /schema\.types\[0\]\.create holds 2 statements/ });
    expect(existsSync(marker)).toBe(false);
    expect(await tablesIn(target)).toBe(0);
  });

  it('a statement of another kind in a slot (COPY instead of CREATE TABLE) is refused', async () => {
    const path = forged('copy-only', (h) => {
      h.schema.tables[0].create = `COPY (select 1) TO PROGRAM 'touch ${marker}'`;
    });
    const { r } = await materializeCreating(path);
    expectCleanFailure(r, {
      code: 2,
      file: path,
      problem: /schema\.tables\[0\]\.create is a CopyStmt statement; expected one CREATE TABLE statement/,
    });
    expect(existsSync(marker)).toBe(false);
  });

  it('a check constraint calling a query-running function is refused', async () => {
    const path = forged('query-to-xml', (h) => {
      const t = h.schema.tables[0];
      t.constraints[0].sql = `ALTER TABLE "${t.schema}"."${t.relname}" ADD CONSTRAINT x CHECK (query_to_xml('select 1', true, true, '') is not null)`;
    });
    const { r } = await materializeCreating(path);
    expectCleanFailure(r, {
      code: 2,
      file: path,
      problem: /constraints\[0\]\.sql calls function "query_to_xml"/,
    });
  });

  it('a column default calling pg_read_file is refused', async () => {
    const path = forged('read-file', (h) => {
      const t = h.schema.tables.find((x: Header) => /DEFAULT now\(\)/i.test(x.create));
      t.create = t.create.replace(/DEFAULT now\(\)/i, "DEFAULT pg_read_file('/etc/passwd')");
    });
    const { r } = await materializeCreating(path);
    expectCleanFailure(r, {
      code: 2,
      file: path,
      problem: /schema\.tables\[\d\]\.create calls function "pg_read_file"/,
    });
  });

  it('an index or constraint aimed at another table than the section names is refused', async () => {
    const path = forged('other-table', (h) => {
      h.schema.tables[0].constraints[0].sql =
        'ALTER TABLE pg_catalog.pg_authid ADD CONSTRAINT x CHECK (true)';
    });
    const { r } = await materializeCreating(path);
    expectCleanFailure(r, { code: 2, file: path, problem: /is about "pg_catalog\.pg_authid"/ });
  });

  it('an extension that is not on the allow-list is refused', async () => {
    const path = forged('extension', (h) => {
      h.schema.extensions = ['plpython3u'];
    });
    const { r } = await materializeCreating(path);
    expectCleanFailure(r, {
      code: 2,
      file: path,
      problem: /extensions\[0\] asks for extension "plpython3u"/,
    });
  });

  it('a schema section changed after export (hash not recomputed) is refused before parsing', async () => {
    const path = forged(
      'edited',
      (h) => {
        h.schema.types[0].create = h.schema.types[0].create.replace("'like'", "'liked'");
      },
      false,
    );
    const { r, target } = await materializeCreating(path);
    expectCleanFailure(r, { code: 2, file: path, problem: /does not match integrity\.schemaSha256/ });
    expect(await tablesIn(target)).toBe(0);
  });

  it('the embedded default does not apply a capsule schema without --create-schema', {
    timeout: 60_000,
  }, async () => {
    const path = forged('embedded', (h) => {
      h.schema.types[0].create += COPY_TO_PROGRAM;
    });
    const r = await cli(['run', '--app', app, '--capsule', path, '--trace-out', join(dir, 't.json')], {
      env: { SOCIALAPP_REPLAY_DATABASE_URL: '' },
    });
    expectCleanFailure(r, { code: 2, file: path, problem: /pass --create-schema/ });
    expect(existsSync(marker)).toBe(false);
  });
});
