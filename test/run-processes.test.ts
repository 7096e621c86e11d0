/**
 * Process lifetimes in `run`: timeouts kill whole process groups, servers that never get ready
 * fail clearly, and SIGTERM to `run` itself stops its background server. Every test checks the
 * pids it started are gone afterwards.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadManifest } from '../src/manifest/load.js';
import { somethingListens } from '../src/run/port-check.js';
import { liveProcesses, startProcess } from '../src/run/processes.js';
import { runReplay } from '../src/run/replay.js';
import { readTraceFile } from '../src/trace/read.js';
import {
  baseEnv,
  createFixtureSchema,
  fixtureManifest,
  freePort,
  readPids,
  serverCommand,
  survivors,
  tempDir,
  writeManifest,
} from './fixtures/app/harness.js';
import { cli, cliProcess, REPO_ROOT } from './helpers/cli.js';
import { useTestDatabase } from './helpers/db.js';

const db = useTestDatabase('runproc');
const tmp = tempDir();

beforeAll(async () => {
  await createFixtureSchema(db);
});
afterAll(() => tmp.cleanup());
afterEach(() => {
  // Nothing this process started may still be running after a test.
  expect(liveProcesses()).toEqual([]);
});

async function replay(name: string, extra: Record<string, unknown>) {
  const path = writeManifest(tmp.dir, fixtureManifest(extra), `${name}.json`);
  return runReplay({
    manifest: loadManifest(path).manifest,
    manifestPath: path,
    databaseUrl: db.url,
    skipMaterialize: true,
    env: baseEnv(),
    cwd: tmp.dir,
  });
}

async function waitForFile(path: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(path) || readFileSync(path, 'utf8').trim() === '') {
    if (Date.now() > deadline) throw new Error(`${path} never appeared`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('run: commands that outlive their welcome', () => {
  it('kills a command that exceeds its timeout together with its children', async () => {
    const pidFile = join(tmp.dir, 'timeout.pids');
    const { trace } = await replay('timeout', {
      commands: [
        {
          name: 'hang',
          run: `sleep 300 & echo $! >> '${pidFile}'; sleep 300 & echo $! >> '${pidFile}'; echo $$ >> '${pidFile}'; wait`,
          timeoutSeconds: 1,
        },
      ],
    });
    const pids = readPids(pidFile);
    expect(pids).toHaveLength(3);
    expect(await survivors(pids, 500)).toEqual([]);
    const e = trace.events[0]!;
    expect(e.ok).toBe(false);
    expect(e.command!.timedOut).toBe(true);
    expect(e.error).toBe('timed out after 1s; its process group was stopped');
    expect(trace.gate.decision).toBe('block');
  });

  it('stops what a finished foreground command left running in its group', async () => {
    const pidFile = join(tmp.dir, 'leftover.pids');
    const { trace } = await replay('leftover', {
      commands: [{ name: 'daemonize', run: `sleep 300 & echo $! > '${pidFile}'; echo started` }],
    });
    expect(trace.events[0]!.ok).toBe(true);
    expect(await survivors(readPids(pidFile), 500)).toEqual([]);
  });

  it('uses SIGKILL when the group ignores SIGTERM', async () => {
    const pidFile = join(tmp.dir, 'stubborn.pid');
    const p = startProcess({
      command: `trap '' TERM; echo $$ > '${pidFile}'; while :; do sleep 0.1; done`,
      cwd: tmp.dir,
      env: baseEnv() as Record<string, string>,
      graceMs: 300,
    });
    await waitForFile(pidFile);
    const r = await p.stop();
    expect(r.signal).toBe('SIGKILL');
    expect(r.stopped).toBe(true);
    expect(await survivors(readPids(pidFile), 500)).toEqual([]);
  });
});

describe('run: the process exits abruptly', () => {
  it('kills the live process groups when something calls process.exit', async () => {
    const pidFile = join(tmp.dir, 'abrupt.pid');
    const script = join(tmp.dir, 'abrupt.mts');
    const processes = new URL('../src/run/processes.ts', import.meta.url).pathname;
    writeFileSync(
      script,
      `import { startProcess } from '${processes}';
       import { existsSync } from 'node:fs';
       startProcess({ command: "echo $$ > '${pidFile}'; exec sleep 300", cwd: '/', env: process.env });
       while (!existsSync('${pidFile}')) await new Promise((r) => setTimeout(r, 20));
       await new Promise((r) => setTimeout(r, 100));
       process.exit(0);`,
    );
    execFileSync(process.execPath, ['--import', 'tsx', script], { cwd: REPO_ROOT, stdio: 'ignore' });
    const [pid] = readPids(pidFile);
    expect(pid).toBeGreaterThan(0);
    expect(await survivors([pid!], 1000)).toEqual([]);
  });
});

describe('run: background readiness', () => {
  it('fails clearly when a server never gets ready, with the tail of its output', async () => {
    const pidFile = join(tmp.dir, 'never.pid');
    const port = await freePort();
    const { trace } = await replay('never', {
      commands: [
        {
          name: 'api',
          run: `echo $$ > '${pidFile}'; echo "booting on ${port}"; exec sleep 300`,
          background: true,
          readyUrl: `http://127.0.0.1:${port}/api/health`,
          readyTimeoutSeconds: 1,
        },
      ],
      probes: [{ name: 'health', kind: 'http', url: `http://127.0.0.1:${port}/api/health` }],
    });
    const e = trace.events[0]!;
    expect(e.kind).toBe('background-start');
    expect(e.ok).toBe(false);
    expect(e.error).toMatch(
      new RegExp(
        `^background command "api" never became ready: http://127.0.0.1:${port}/api/health never answered within 1s \\(last: ECONNREFUSED\\)`,
      ),
    );
    expect(e.error).toContain(`--- last output of api ---\nbooting on ${port}`);
    expect(trace.events).toHaveLength(1); // the probe is skipped
    expect(trace.gate.decision).toBe('block');
    expect(await survivors(readPids(pidFile), 500)).toEqual([]);
  });

  it('says so when the server exits before it is ready', async () => {
    const { trace } = await replay('crash', {
      commands: [
        {
          name: 'api',
          run: 'echo "Error: DATABASE_URL is wrong" >&2; exit 7',
          background: true,
          readyUrl: 'http://127.0.0.1:9/never',
          readyTimeoutSeconds: 10,
        },
      ],
    });
    expect(trace.events[0]!.error).toMatch(/the server exited with code 7 before it became ready/);
    expect(trace.events[0]!.error).toContain('Error: DATABASE_URL is wrong');
  });

  it('waits for readyCommand and stops the server at the end', async () => {
    const port = await freePort();
    const pidFile = join(tmp.dir, 'readycmd.pid');
    const { trace } = await replay('readycmd', {
      commands: [
        serverCommand(port, pidFile, {
          readyUrl: undefined,
          readyCommand: `node -e "fetch('http://127.0.0.1:${port}/api/health').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"`,
        }),
      ],
      probes: [
        { name: 'health', kind: 'http', url: `http://127.0.0.1:${port}/api/health`, expectStatus: 200 },
      ],
    });
    expect(trace.events.map((e) => [e.kind, e.ok])).toEqual([
      ['background-start', true],
      ['probe-http', true],
      ['background-stop', true],
    ]);
    expect(await survivors(readPids(pidFile), 500)).toEqual([]);
  });
});

/** The parent of a process, through /proc. */
function parentPid(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}
/** The run's own pid, from a command's shell: shell → its supervisor (supervisor.ts) → run. */
const runPidOf = (shellPid: number) => parentPid(parentPid(shellPid));

describe('run: interrupting run itself', () => {
  it('kill -9 of run leaves nothing behind: its supervisors stop the server and the hanging command', async () => {
    const port = await freePort();
    const pidFile = join(tmp.dir, 'sigkill.pid');
    const hangPid = join(tmp.dir, 'sigkill-hang.pid');
    const manifestPath = writeManifest(
      tmp.dir,
      fixtureManifest({
        commands: [
          serverCommand(port, pidFile),
          { name: 'hang', run: `echo $$ > '${hangPid}'; exec sleep 300` },
        ],
      }),
      'sigkill.json',
    );
    const child = cliProcess(['run', '--app', manifestPath, '--db-url', db.url, '--skip-materialize'], {
      env: baseEnv() as Record<string, string>,
      timeoutMs: 60_000,
    });
    await waitForFile(hangPid, 30_000);
    const serverPid = readPids(pidFile)[0]!;
    const shellPid = readPids(hangPid)[0]!;
    const runPid = runPidOf(shellPid);
    expect(await somethingListens('127.0.0.1', port)).toBe(true);
    process.kill(runPid, 'SIGKILL');
    const r = await child;
    expect(r.code).toBe(128); // killed: no exit code of its own
    // No handler ran in `run`: the supervisors saw their stdin close and stopped their groups.
    expect(await survivors([serverPid, shellPid], 10_000)).toEqual([]);
    expect(await somethingListens('127.0.0.1', port)).toBe(false);
  });

  it('a run refuses to start while something already answers on a ready URL (it would probe that instead)', async () => {
    const port = await freePort();
    const squatter = createServer((_req, res) => res.end('an old app'));
    await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve));
    try {
      const started = join(tmp.dir, 'occupied.started');
      const manifestPath = writeManifest(
        tmp.dir,
        fixtureManifest({
          commands: [
            { name: 'before', run: `touch '${started}'` },
            serverCommand(port, join(tmp.dir, 'occupied.pid')),
          ],
        }),
        'occupied.json',
      );
      const traceOut = join(tmp.dir, 'occupied.trace.json');
      const r = await cli(
        ['run', '--app', manifestPath, '--db-url', db.url, '--skip-materialize', '--trace-out', traceOut],
        { env: baseEnv() as Record<string, string> },
      );
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toContain(
        `refusing to start: something already answers on http://127.0.0.1:${port}/api/health (port ${port}), the readyUrl of background command "api" (commands[1])`,
      );
      expect(existsSync(started)).toBe(false); // nothing ran
      expect(existsSync(traceOut)).toBe(false);
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  });

  it('SIGTERM to a run process stops its background server and still writes the trace', async () => {
    const port = await freePort();
    const pidFile = join(tmp.dir, 'sigterm.pid');
    const hangPid = join(tmp.dir, 'sigterm-hang.pid');
    const manifestPath = writeManifest(
      tmp.dir,
      fixtureManifest({
        commands: [
          serverCommand(port, pidFile),
          { name: 'hang', run: `echo $$ > '${hangPid}'; exec sleep 300` },
        ],
      }),
      'sigterm.json',
    );
    const traceOut = join(tmp.dir, 'sigterm.trace.json');
    const child = cliProcess(
      ['run', '--app', manifestPath, '--db-url', db.url, '--skip-materialize', '--trace-out', traceOut],
      { env: baseEnv() as Record<string, string>, timeoutMs: 60_000 },
    );
    await waitForFile(hangPid, 30_000);
    const serverPid = readPids(pidFile)[0]!;
    process.kill(runPidOf(readPids(hangPid)[0]!), 'SIGTERM');
    const r = await child;
    // 128 + 15, as every interrupted command (README: exit codes); the trace still says block.
    expect(r.code).toBe(143);
    expect(r.stderr).toMatch(/SIGTERM: stopping the run/);
    expect(await survivors([serverPid, ...readPids(hangPid)], 1000)).toEqual([]);
    const trace = readTraceFile(traceOut);
    expect(trace.gate.decision).toBe('block');
    expect(trace.gate.reasons).toContain('the run was interrupted before it finished');
    expect(trace.events.map((e) => [e.kind, e.name])).toEqual([
      ['background-start', 'api'],
      ['command', 'hang'],
      ['background-stop', 'api'],
    ]);
  });
});

describe('run: what the app under test is given', () => {
  it('withholds the production database URL and the capsule key from commands and probes (even when opted in)', async () => {
    const path = writeManifest(tmp.dir, fixtureManifest(), 'withheld.json');
    const seen = join(tmp.dir, 'withheld.env');
    const show = `node -e 'const e=process.env; console.log(JSON.stringify({prod: e.APP_PROD_DATABASE_URL ?? null, key: e.REPLAY_CAPSULE_KEY ?? null, keyFile: e.REPLAY_CAPSULE_KEY_FILE ?? null, other: e.KEEP_ME ?? null, replay: e.FIXTURE_REPLAY_DATABASE_URL ?? null}))'`;
    const manifest = loadManifest(
      writeManifest(
        tmp.dir,
        fixtureManifest({
          // Opting in lets KEEP_ME through, never the withheld variables.
          run: { passEnv: ['KEEP_ME', 'APP_PROD_DATABASE_URL', 'REPLAY_CAPSULE_KEY'] },
          commands: [{ name: 'cmd-env', run: `${show} > '${seen}'` }],
          probes: [{ name: 'env', kind: 'command', command: show }],
        }),
        'withheld.json',
      ),
    ).manifest;
    const prodUrl = 'postgres://reader:s3cret-prod-pw@db.example.com/app';
    const key = 'a'.repeat(64);
    const { trace } = await runReplay({
      manifest,
      manifestPath: path,
      databaseUrl: db.url,
      skipMaterialize: true,
      env: baseEnv({
        APP_PROD_DATABASE_URL: prodUrl,
        REPLAY_CAPSULE_KEY: key,
        REPLAY_CAPSULE_KEY_FILE: '/secrets/capsule.key',
        KEEP_ME: 'kept',
      }),
      cwd: tmp.dir,
    });
    const expected = { prod: null, key: null, keyFile: null, other: 'kept', replay: db.url };
    expect(JSON.parse(readFileSync(seen, 'utf8'))).toEqual(expected);
    const probe = trace.events.find((e) => e.name === 'env')!;
    expect(probe.ok).toBe(true);
    // In the trace the replay URL's password is masked like any password in a URL.
    const masked = db.url.replace(/:([^:@/]+)@/, ':***@');
    expect(JSON.parse(probe.command!.stdoutTail!)).toEqual({ ...expected, replay: masked });
    // Not in the trace either, should the app have found them some other way.
    const text = JSON.stringify(trace);
    expect(text).not.toContain('s3cret-prod-pw');
    expect(text).not.toContain(key);
  });

  it('passes only the allow-listed environment: tokens and DSNs need run.passEnv', async () => {
    const names = [
      'PATH',
      'HOME',
      'LANG',
      'TZ',
      'NODE_ENV',
      'NPM_AUTH',
      'SENTRY_DSN',
      'GH_TOKEN',
      'PGHOST',
      'OPTED',
    ];
    const show = `node -e 'const e=process.env; console.log(JSON.stringify(${JSON.stringify(names)}.filter((n) => n in e)))'`;
    const run = async (passEnv?: string[]) => {
      const path = writeManifest(
        tmp.dir,
        fixtureManifest({
          ...(passEnv ? { run: { passEnv } } : {}),
          probes: [{ name: 'env', kind: 'command', command: show }],
        }),
        'allow-list.json',
      );
      const { trace } = await runReplay({
        manifest: loadManifest(path).manifest,
        manifestPath: path,
        databaseUrl: db.url,
        skipMaterialize: true,
        env: baseEnv({
          LANG: 'C.UTF-8',
          TZ: 'UTC',
          NODE_ENV: 'test',
          NPM_AUTH: 'npm_token_value',
          SENTRY_DSN: 'https://key@o1.ingest.sentry.io/1',
          GH_TOKEN: 'ghp_value',
          PGHOST: 'prod-db.internal',
          OPTED: 'yes',
        }),
        cwd: tmp.dir,
      });
      const probe = trace.events.find((e) => e.name === 'env')!;
      expect(probe.ok, probe.error).toBe(true);
      return JSON.parse(probe.command!.stdoutTail!) as string[];
    };
    expect(await run()).toEqual(['PATH', 'HOME', 'LANG', 'TZ', 'NODE_ENV']);
    expect(await run(['OPTED', 'SENTRY_DSN'])).toEqual([
      'PATH',
      'HOME',
      'LANG',
      'TZ',
      'NODE_ENV',
      'SENTRY_DSN',
      'OPTED',
    ]);
  });
});
