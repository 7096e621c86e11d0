/**
 * Bad-input corpus, database side: malformed manifests and capsules fed to `materialize-postgres`
 * (and a few to `run` and `inspect`) against a target that already holds rows. Every case must exit
 * 2 with an error naming the file and the problem, print no stack trace, leave no file behind and
 * leave the target byte-for-byte unchanged (databaseChecksum before == after).
 *
 * Fixtures: test/fixtures/bad-inputs/ (small, static); the huge and deeply nested capsules are
 * generated here.
 */
import { createWriteStream, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_NESTING_DEPTH, MAX_VALUE_BYTES } from '../../src/capsule/byte-check.js';
import { type CliResult, cli, cliProcess } from '../helpers/cli.js';
import { useTestDatabase } from '../helpers/db.js';
import { databaseChecksum } from '../helpers/db-checksum.js';
import { caseDir, corpusRoot, expectCleanFailure, fixture, withTmpdir } from './harness.js';

const db = useTestDatabase('badin');

const SCHEMA = `
create table users (id text primary key, tenant_id text not null, name text, profile jsonb);
create table posts (id bigint primary key, tenant_id text not null, user_id text references users (id), body text);
insert into users values ('u1', 'acme', 'old Ada', '{"lang":"de"}'), ('o1', 'other', 'Otto', null);
insert into posts values (1, 'acme', 'u1', 'old post'), (9, 'other', 'o1', 'other post');
`;

const APP = fixture('app.json');
let root = '';

beforeAll(async () => {
  await db.query(SCHEMA);
  root = corpusRoot();
});
afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

interface Case {
  id: string;
  /** The malformed file (named in the error). */
  file: string | ((dir: string) => string | Promise<string>);
  /** The command, given the file and the case directory. */
  args: (file: string, dir: string) => string[];
  problem: RegExp;
  /** Files the command would write: must not exist afterwards. */
  outputs?: (dir: string) => string[];
  code?: number;
  /** Run as a real child process (exit code and stderr of the binary). */
  process?: boolean;
  stream?: 'stderr' | 'stdout';
}

const materialize = (app: string, capsule: string) => [
  'materialize-postgres',
  '--app',
  app,
  '--capsule',
  capsule,
  '--db-url',
  db.url,
  '--load-strategy',
  'copy',
];
/** A bad manifest: the capsule is fine. */
const manifestCase = (f: string) => materialize(f, fixture('capsule-good.json'));
/** A bad capsule: the manifest is fine. */
const capsuleCase = (f: string) => materialize(APP, f);

/** The good capsule with one users row replaced by `row` (a line of JSON text). */
function withUserRow(row: string, layout: 'lines' | 'pretty') {
  return async (dir: string): Promise<string> => {
    const path = join(dir, `capsule-${layout}.json`);
    const out = createWriteStream(path);
    const nl = layout === 'lines' ? '\n' : '\n      ';
    out.write(
      `{"schemaVersion":1,${nl}"app":"badapp",${nl}"adapter":"postgres-subject-graph.v1",${nl}"subject":{"tenant_id":"acme"},${nl}"graph":[{"reasons":["subject"],"tenant_id":"acme"}],${nl}"redaction":"raw",\n"tables":{\n"users":[\n{"id":"u1","tenant_id":"acme","name":"Ada","profile":null},\n`,
    );
    out.write(row);
    out.write('\n],\n"posts":[]\n}\n}\n');
    await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
    return path;
  };
}

const deepRow = (depth: number) =>
  `{"id":"u2","tenant_id":"acme","name":"Bob","profile":${'['.repeat(depth)}${']'.repeat(depth)}}`;

/** One capsule for both huge-string cases (written once: it is 256 MiB). */
let huge: Promise<string> | null = null;
const hugeRow = () => {
  huge ??= writeHugeRow(root);
  return huge;
};

function writeHugeRow(dir: string): Promise<string> {
  // One string value just over the per-value limit, written in pieces (never one JS string).
  const path = join(dir, 'capsule-huge.json');
  const out = createWriteStream(path);
  out.write(
    '{"schemaVersion":1,\n"app":"badapp",\n"adapter":"postgres-subject-graph.v1",\n"subject":{"tenant_id":"acme"},\n"graph":[{"reasons":["subject"],"tenant_id":"acme"}],\n"redaction":"raw",\n"tables":{\n"users":[\n{"id":"u2","tenant_id":"acme","name":"',
  );
  const piece = Buffer.alloc(1 << 24, 'x');
  return new Promise((resolve, reject) => {
    let left = Math.ceil((MAX_VALUE_BYTES + 1) / piece.length);
    const pump = () => {
      while (left > 0) {
        left--;
        if (!out.write(piece)) return void out.once('drain', pump);
      }
      out.end('","profile":null}\n],\n"posts":[]\n}\n}\n', () => resolve(path));
    };
    out.on('error', reject);
    pump();
  });
}

const CASES: Case[] = [
  // ---- manifests (what the manifest loader validates)
  {
    id: 'manifest-invalid-json',
    file: fixture('manifest-invalid-json.json'),
    args: manifestCase,
    problem: /invalid JSON at line 5, column 1/,
  },
  {
    id: 'manifest-empty',
    file: fixture('manifest-empty.json'),
    args: manifestCase,
    problem: /invalid JSON/,
  },
  {
    id: 'manifest-array',
    file: fixture('manifest-array.json'),
    args: manifestCase,
    problem: /\(top level\): must be an object, got an array/,
  },
  {
    id: 'manifest-wrong-type',
    file: fixture('manifest-wrong-type.json'),
    args: manifestCase,
    problem: /subjectKeys: must be an array, got a string/,
  },
  {
    id: 'manifest-missing-subject-keys',
    file: fixture('manifest-missing-subject-keys.json'),
    args: manifestCase,
    problem: /subjectKeys: is required \(array\)/,
  },
  {
    id: 'manifest-wrong-adapter',
    file: fixture('manifest-wrong-adapter.json'),
    args: manifestCase,
    problem: /adapter: must be "postgres-subject-graph\.v1", got "mysql-subject-graph\.v1"/,
  },
  {
    id: 'manifest-bad-identifier',
    file: fixture('manifest-bad-identifier.json'),
    args: manifestCase,
    problem: /postgres\.tables\[0\]\.name: must be a plain SQL identifier, got "users; drop table posts"/,
  },
  {
    id: 'manifest-undeclared-table-order',
    file: fixture('manifest-undeclared-table-order.json'),
    args: manifestCase,
    problem: /postgres\.tableOrder\[1\]: names "comments", which is not a declared table/,
  },
  {
    id: 'manifest-duplicate-key',
    file: fixture('manifest-duplicate-key.json'),
    args: manifestCase,
    problem: /invalid JSON at line 6, column \d+: Duplicate key 'postgres'/,
  },
  {
    id: 'manifest-invalid-utf8',
    file: fixture('manifest-invalid-utf8.json'),
    args: manifestCase,
    problem: /not valid UTF-8 \(byte offset 17\)/,
  },
  {
    id: 'manifest-not-found',
    file: fixture('no-such-manifest.json'),
    args: manifestCase,
    problem: /manifest not found/,
  },
  // SQL references are checked against the live catalog by doctor (exit 1: a check failed).
  {
    id: 'manifest-bad-sql-ref',
    file: fixture('manifest-bad-sql-ref.json'),
    args: (f) => ['doctor', '--app', f, '--db-url', db.url],
    problem:
      /FAIL +postgres\.tables\[0\] \(users\)\.deletePredicate: t\.tenant — column users\.tenant does not exist/,
    code: 1,
    stream: 'stdout',
  },
  // Unknown keys are accepted (older/newer manifests) and warned about; --strict refuses them.
  {
    id: 'manifest-unknown-key',
    file: fixture('manifest-unknown-key.json'),
    args: (f) => ['doctor', '--app', f, '--strict'],
    problem: /FAIL +\(strict\) unknown key postgres\.tables\[0\]\.deletePredicat\b/,
    code: 1,
    stream: 'stdout',
  },

  // ---- capsules: structure and contract
  {
    id: 'capsule-truncated',
    file: fixture('capsule-truncated.json'),
    args: capsuleCase,
    problem: /not a valid capsule: invalid JSON/,
  },
  {
    id: 'capsule-empty',
    file: fixture('capsule-empty.json'),
    args: capsuleCase,
    problem: /empty file; a capsule is a JSON object/,
  },
  {
    id: 'capsule-array',
    file: fixture('capsule-array.json'),
    args: capsuleCase,
    problem: /not a valid capsule: expected a JSON object/,
  },
  {
    id: 'capsule-wrong-app',
    file: fixture('capsule-wrong-app.json'),
    args: capsuleCase,
    problem: /"otherapp".*"badapp"|"badapp".*"otherapp"/,
  },
  {
    id: 'capsule-missing-subject-key',
    file: fixture('capsule-missing-subject-key.json'),
    args: capsuleCase,
    problem: /subject.*tenant_id/,
  },
  {
    id: 'capsule-schema-version-3',
    file: fixture('capsule-schema-version-3.json'),
    args: capsuleCase,
    problem: /schemaVersion: must be 1 or 2, got 3/,
  },
  {
    id: 'capsule-bad-redaction',
    file: fixture('capsule-bad-redaction.json'),
    args: capsuleCase,
    problem: /redaction: .*"safe".*"raw"/,
  },
  {
    id: 'capsule-unknown-table',
    file: fixture('capsule-unknown-table.json'),
    args: capsuleCase,
    problem: /comments/,
  },
  {
    id: 'capsule-table-not-array',
    file: fixture('capsule-table-not-array.json'),
    args: capsuleCase,
    problem: /tables\.users: must be an array of rows/,
  },
  {
    id: 'capsule-row-not-object',
    file: fixture('capsule-row-not-object.json'),
    args: capsuleCase,
    problem: /tables\.users\[1\]: must be a row object/,
  },
  {
    id: 'capsule-row-array',
    file: fixture('capsule-row-array.json'),
    args: capsuleCase,
    problem: /tables\.users\[1\]: must be a row object/,
  },
  // The rows do not match the capsule's own integrity record: found when the loaded rows are
  // hashed inside the transaction (a failed check: exit 1), which is rolled back.
  {
    id: 'capsule-integrity-mismatch',
    file: fixture('capsule-integrity-mismatch.json'),
    args: capsuleCase,
    problem:
      /materialization integrity check failed:\n\s+posts: the loaded rows' content hash differs from the capsule's integrity record/,
    code: 1,
  },
  {
    id: 'capsule-not-found',
    file: fixture('no-such-capsule.json'),
    args: capsuleCase,
    problem: /capsule not found/,
  },

  // ---- capsules: the measured bugs, on both reading paths (row lines and the generic reader)
  {
    id: 'duplicate-key-row-lines',
    file: fixture('capsule-duplicate-key-row.json'),
    args: capsuleCase,
    problem: /tables\.users\[1\]: duplicate key "id"/,
  },
  {
    id: 'duplicate-key-row-pretty',
    file: fixture('capsule-duplicate-key-row-pretty.json'),
    args: capsuleCase,
    problem: /tables\.users\[1\]: duplicate key "id"/,
  },
  {
    id: 'duplicate-key-row-escaped',
    file: withUserRow('{"id":"u2","tenant_id":"acme","\\u0069d":"u3"}', 'lines'),
    args: capsuleCase,
    problem: /tables\.users\[1\]: duplicate key "id"/,
  },
  {
    id: 'duplicate-key-header',
    file: fixture('capsule-duplicate-key-header.json'),
    args: capsuleCase,
    problem: /duplicate top-level key "app"/,
  },
  {
    id: 'duplicate-table',
    file: fixture('capsule-duplicate-table.json'),
    args: capsuleCase,
    problem: /tables\.users: appears twice/,
  },
  {
    id: 'invalid-utf8-lines',
    file: fixture('capsule-invalid-utf8.json'),
    args: capsuleCase,
    problem: /invalid UTF-8 at byte offset 310 \(in tables\.users\[1\]\.name\)/,
    process: true,
  },
  {
    id: 'invalid-utf8-pretty',
    file: fixture('capsule-invalid-utf8-pretty.json'),
    args: capsuleCase,
    problem: /invalid UTF-8 at byte offset \d+ \(in tables\.users\[1\]\.name\)/,
  },
  {
    id: 'invalid-utf8-gzip',
    file: fixture('capsule-invalid-utf8.json.gz'),
    args: capsuleCase,
    problem: /invalid UTF-8 at byte offset 310 \(in tables\.users\[1\]\.name\)/,
  },
  {
    id: 'deep-nesting-lines',
    file: withUserRow(deepRow(100_000), 'lines'),
    args: capsuleCase,
    problem: new RegExp(`tables\\.users\\[1\\]\\.profile: nested more than ${MAX_NESTING_DEPTH} levels deep`),
  },
  {
    id: 'deep-nesting-pretty',
    file: withUserRow(deepRow(MAX_NESTING_DEPTH + 1), 'pretty'),
    args: capsuleCase,
    problem: new RegExp(`tables\\.users\\[1\\]\\.profile: nested more than ${MAX_NESTING_DEPTH} levels deep`),
  },
  {
    id: 'huge-string',
    file: hugeRow,
    args: capsuleCase,
    problem: /tables\.users\[0\]\.name: string is larger than 256 MiB \(the limit per value/,
    process: true,
  },
  // The streaming reader (inspect, run's trace, the generic spool) on the same file.
  {
    id: 'huge-string-reader',
    file: hugeRow,
    args: (f) => ['inspect', f],
    problem: /tables\.users\[0\]\.name: value is larger than 256 MiB \(the limit per value/,
  },

  // ---- capsules: compression
  {
    id: 'gzip-garbage',
    file: fixture('capsule-gzip-garbage.json.gz'),
    args: capsuleCase,
    problem: /corrupt gzip capsule/,
    process: true,
  },
  {
    id: 'gzip-truncated',
    file: fixture('capsule-gzip-truncated.json.gz'),
    args: capsuleCase,
    problem: /corrupt gzip capsule \(unexpected end of file\)/,
  },

  // ---- other commands on bad capsules
  {
    id: 'run-duplicate-key-row',
    file: fixture('capsule-duplicate-key-row.json'),
    args: (f, dir) => [
      'run',
      '--app',
      APP,
      '--capsule',
      f,
      '--db-url',
      db.url,
      '--trace-out',
      join(dir, 'out', 'trace.json'),
    ],
    problem: /tables\.users\[1\]: duplicate key "id"/,
    outputs: (dir) => [join(dir, 'out', 'trace.json')],
  },
  {
    id: 'run-invalid-utf8',
    file: fixture('capsule-invalid-utf8.json'),
    args: (f, dir) => [
      'run',
      '--app',
      APP,
      '--capsule',
      f,
      '--db-url',
      db.url,
      '--trace-out',
      join(dir, 'out', 'trace.json'),
    ],
    problem: /invalid UTF-8 at byte offset 310/,
    outputs: (dir) => [join(dir, 'out', 'trace.json')],
  },
  {
    id: 'inspect-duplicate-key-row',
    file: fixture('capsule-duplicate-key-row.json'),
    args: (f) => ['inspect', f, '--json'],
    problem: /tables\.users\[1\]: duplicate key "id"/,
  },
  {
    id: 'inspect-invalid-utf8',
    file: fixture('capsule-invalid-utf8.json'),
    args: (f) => ['inspect', f],
    problem: /invalid UTF-8 at byte offset 310 \(in tables\.users\[1\]\.name\)/,
  },
  {
    id: 'inspect-deep-nesting',
    file: withUserRow(deepRow(100_000), 'lines'),
    args: (f) => ['inspect', f, '--json'],
    problem: /tables\.users\[1\]\.profile: nested more than 1000 levels deep/,
  },
];

describe('bad manifests and capsules: exit 2, named file and problem, no output, target unchanged', () => {
  it.each(CASES.map((c) => [c.id, c] as const))('%s', async (id, c) => {
    const dir = caseDir(root, id);
    const file = typeof c.file === 'function' ? await c.file(dir) : c.file;
    const before = await databaseChecksum(db.url);
    const args = c.args(file, dir);
    let r: CliResult;
    if (c.process) r = await cliProcess(args, { env: { TMPDIR: join(dir, 'tmp') } });
    else r = await withTmpdir(join(dir, 'tmp'), () => cli(args));
    expectCleanFailure(r, {
      code: c.code ?? 2,
      // doctor's report names the manifest relative to the working directory
      file: c.stream === 'stdout' ? relative(process.cwd(), file) : file,
      problem: c.problem,
      outputs: c.outputs?.(dir),
      stream: c.stream,
      emptyDirs: [join(dir, 'tmp'), join(dir, 'out')],
    });
    const after = await databaseChecksum(db.url);
    expect(after).toEqual(before);
    if (typeof c.file === 'function' && c.file !== hugeRow) rmSync(file, { force: true });
  });

  it('the target holds rows to protect, and the good capsule loads (the corpus differs from it only in its defect)', async () => {
    const before = await databaseChecksum(db.url);
    expect(Object.values(before.tables).join(' ')).toMatch(/^2 \S+ 2 \S+$/);
    const scratch = await db.create('badin_ok');
    await (await import('../helpers/db.js')).withClient(scratch, (c) => c.query(SCHEMA));
    const r = await cli(
      materialize(APP, fixture('capsule-good.json')).map((a) => (a === db.url ? scratch : a)),
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    writeFileSync(join(root, 'ok.txt'), r.stdout);
  });
});
