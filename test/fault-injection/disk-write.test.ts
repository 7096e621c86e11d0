/**
 * Write failures of output files: a real EFBIG (the CLI runs under `ulimit -f`; Node ignores
 * SIGXFSZ, so the write fails instead of killing the process), an output directory the user may
 * not write to, an output path under a regular file. Each gives a clear error naming the output
 * path and the OS error, a non-zero exit, no file at the output path and no temp file. `run`'s
 * trace is written the same way (util/atomic-file.ts): a failed write leaves no half-written trace.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';
import { useTestDatabase } from '../helpers/db.js';
import { databaseChecksum } from '../helpers/db-checksum.js';
import {
  expectCleanError,
  MANIFEST,
  outputLeftovers,
  sourceSql,
  startCli,
  withPg,
  workDir,
  writeManifest,
} from './harness.js';

/**
 * ~2.8 MB of capsule: more than the writer's stream buffers hold, so a write error arrives while
 * the exporter waits for them to drain (a dead file stream never drains: that wait hung forever).
 */
const EVENTS = 20_000;
const db = useTestDatabase('fault_disk');
const work = workDir('fault-disk-');
let manifest = '';
let before = '';

beforeAll(async () => {
  manifest = writeManifest(work.dir);
  await withPg(db.url, (c) => c.query(sourceSql(EVENTS)));
  before = (await databaseChecksum(db.url)).digest;
});
afterAll(() => work.cleanup());

const exportArgs = (out: string) => [
  'export-postgres',
  '--app',
  manifest,
  '--subject',
  'tenant_id=acme',
  '--db-url',
  db.url,
  '--redaction',
  'raw',
  '--out',
  out,
];

/** A directory everyone may enter (the CLI may run as another user). */
function dir(name: string, mode = 0o777): string {
  const d = join(work.dir, name);
  mkdirSync(d);
  chmodSync(d, mode);
  return d;
}

describe('export: disk-write failures', () => {
  it('EFBIG (file-size limit): clear error naming the output and the OS error, temp removed', async () => {
    const out = join(dir('efbig'), 'acme.json');
    // The limit lets the temp file be created and written to, then stops it.
    const r = await startCli(exportArgs(out), { fileSizeKb: 64 }).exited;
    expect(r.signal, 'SIGXFSZ is ignored by Node: the write fails, the process lives').toBeNull();
    expect(r.code, r.stderr).toBe(1);
    expectCleanError(r.stderr);
    expect(r.stderr).toContain(
      `replay-env: cannot write the capsule to ${out}: EFBIG: file too large, write; no capsule was written`,
    );
    expect(outputLeftovers(out)).toEqual([]);
    expect((await databaseChecksum(db.url)).digest).toBe(before);
  });

  it('an output directory the user may not write to: clear error, nothing left', async () => {
    const ro = dir('read-only', 0o555);
    const out = join(ro, 'acme.json');
    // Root may write anywhere: run the CLI as `nobody` then.
    const asUser =
      process.getuid?.() === 0
        ? {
            uid: Number(spawnSync('id', ['-u', 'nobody']).stdout.toString()),
            gid: Number(spawnSync('id', ['-g', 'nobody']).stdout.toString()),
          }
        : {};
    // Its temp files (tsx's cache) go under this test's directory, removed at the end.
    const r = await startCli(exportArgs(out), { ...asUser, env: { TMPDIR: dir('tmp-other-user') } }).exited;
    expect(r.code, r.stderr).toBe(1);
    expectCleanError(r.stderr);
    expect(r.stderr).toContain(`replay-env: cannot write the capsule to ${out}: EACCES: permission denied`);
    expect(r.stderr).toContain('no capsule was written');
    expect(outputLeftovers(out)).toEqual([]);
    expect((await databaseChecksum(db.url)).digest).toBe(before);
  });

  it('an output path under a regular file: clear error; a missing directory is created', async () => {
    const file = join(work.dir, 'not-a-dir');
    writeFileSync(file, 'x');
    const out = join(file, 'sub', 'acme.json');
    const r = await cli(exportArgs(out));
    expect(r.code).toBe(1);
    expectCleanError(r.stderr);
    expect(r.stderr).toMatch(
      new RegExp(
        `cannot write the capsule to ${out}: cannot create the output directory .*: (ENOTDIR|EEXIST)`,
      ),
    );
    expect(readFileSync(file, 'utf8')).toBe('x');

    const nested = join(work.dir, 'new', 'deeper', 'acme.json');
    const ok = await cli(exportArgs(nested));
    expect(ok.code, ok.stderr).toBe(0);
    expect(existsSync(nested)).toBe(true);
    expect((await databaseChecksum(db.url)).digest).toBe(before);
  });
});

describe('run: the trace is written atomically', () => {
  it('a failed trace write (EFBIG) leaves no half-written trace and no temp file', async () => {
    const runManifest = join(work.dir, 'faultapp-run.json');
    writeFileSync(
      runManifest,
      JSON.stringify({
        ...MANIFEST,
        commands: [{ name: 'hello', run: 'echo hello' }],
        // Enough rows that the trace is larger than the file-size limit below.
        probes: [
          { name: 'events', kind: 'sql', query: 'select id, payload from events order by id limit 300' },
        ],
      }),
    );
    chmodSync(runManifest, 0o644);
    const trace = join(dir('trace'), 'trace.json');
    const r = await startCli(
      ['run', '--app', runManifest, '--db-url', db.url, '--skip-materialize', '--trace-out', trace],
      { fileSizeKb: 8 },
    ).exited;
    expect(r.signal).toBeNull();
    expect(r.code, r.stderr).toBe(1);
    expectCleanError(r.stderr);
    expect(r.stderr).toContain(
      `replay-env: cannot write the trace ${trace}: EFBIG: file too large, write; nothing was written there`,
    );
    expect(outputLeftovers(trace)).toEqual([]);
    expect((await databaseChecksum(db.url)).digest).toBe(before);
  });
});
