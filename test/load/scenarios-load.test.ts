/**
 * Load: a registry of 20 scenarios (tiny capsules, one SQL probe each, and a background app that
 * listens on a port) run by the bundled Action sequentially in one job, then as 4 shards
 * (shard: 1/4 … 4/4, each in its own job with its own database, concurrently) followed by the
 * aggregate job. Every scenario runs exactly once across the shards; the aggregate equals the
 * sequential result; and afterwards nothing is left: no process started by the runs (found by an
 * environment marker every child inherits, so orphans re-parented to init are found too), no
 * listening socket, nothing in the runs' TMPDIR, and nothing but the results in RUNNER_TEMP.
 */
import { randomBytes } from 'node:crypto';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/postgres/embedded.js';
import { type ActionRun, runBundledAction } from '../helpers/action-process.js';
import { writeTestCapsule } from '../helpers/capsule-file.js';
import { useTestDatabase, withClient } from '../helpers/db.js';
import { FakeGitHub } from '../helpers/github-server.js';

const db = useTestDatabase('load');
const gh = new FakeGitHub();
const MARK = `replay-load-${randomBytes(6).toString('hex')}`;
const IDS = Array.from({ length: 20 }, (_, i) => `s${String(i + 1).padStart(2, '0')}`);
/** s20's capsule does not exist: a scenario that cannot run is a block result of its own. */
const BROKEN = 's20';
let root = '';
let workspace = '';

// ---- what the machine looks like: processes, listening sockets --------------------------------

function pids(): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number);
}

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** Live (non-zombie) processes that inherited the runs' marker, with their command lines. */
function markedProcesses(): string[] {
  return pids()
    .filter(
      (pid) => pid !== process.pid && read(`/proc/${pid}/environ`).split('\0').includes(`LOAD_MARK=${MARK}`),
    )
    .filter((pid) => {
      const stat = read(`/proc/${pid}/stat`);
      return stat !== '' && stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
    })
    .map((pid) => `${pid}: ${read(`/proc/${pid}/cmdline`).replace(/\0/g, ' ')}`);
}

/** Descendants of this test process. */
function descendants(): number[] {
  const parent = new Map<number, number>();
  for (const pid of pids()) {
    const stat = read(`/proc/${pid}/stat`);
    if (stat) parent.set(pid, Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [child, pp] of parent)
      if (pp === p) {
        out.push(child);
        walk(child);
      }
  };
  walk(process.pid);
  return out.sort();
}

/** Inodes of sockets in LISTEN state (IPv4 and IPv6) → local port. */
function listening(): Map<string, number> {
  const out = new Map<string, number>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6'])
    for (const line of read(file).split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[3] === '0A') out.set(f[9]!, Number.parseInt(f[1]!.split(':')[1]!, 16));
    }
  return out;
}

/** The pid holding a socket inode, if any process of ours does. */
function socketOwner(inode: string): number | undefined {
  for (const pid of pids()) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === `socket:[${inode}]`) return pid;
      } catch {}
    }
  }
  return undefined;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

// ---- the runs ---------------------------------------------------------------------------------

/** The ports the jobs' apps listened on. */
const appPorts: number[] = [];

/** One manifest per job: each job's app listens on its own port. */
async function manifestFor(job: string): Promise<string> {
  const port = await freePort();
  appPorts.push(port);
  const name = `load-${job}.manifest.json`;
  writeFileSync(
    join(workspace, name),
    JSON.stringify({
      appId: 'loadapp',
      adapter: 'postgres-subject-graph.v1',
      subjectKeys: ['account_id'],
      postgres: { tables: [{ name: 'items', deletePredicate: 't.account_id = g.account_id' }] },
      commands: [
        {
          name: 'app',
          run: `exec node -e "require('http').createServer((q, r) => r.end('ok')).listen(${port}, '127.0.0.1')"`,
          background: true,
          readyUrl: `http://127.0.0.1:${port}/`,
          readyTimeoutSeconds: 20,
        },
      ],
      probes: [{ name: 'labels', kind: 'sql', query: 'select label from items order by label' }],
    }),
  );
  return name;
}

async function job(
  name: string,
  inputs: Record<string, string>,
): Promise<ActionRun & { tmp: string; runnerTemp: string }> {
  const tmp = join(root, `${name}-tmp`);
  const runnerTemp = join(root, `${name}-runner-temp`);
  mkdirSync(tmp);
  mkdirSync(runnerTemp);
  let databaseUrl = '';
  if (inputs.mode !== 'aggregate') {
    databaseUrl = await db.create('load');
    await withClient(databaseUrl, (c) =>
      c.query('create table items (id bigint primary key, account_id text not null, label text not null)'),
    );
  }
  const r = await runBundledAction({
    inputs: {
      'github-token': 'ghs_load',
      'scenarios-file': 'scenarios.yaml',
      'fail-on': 'never',
      comment: 'off',
      ...(databaseUrl ? { 'database-url': databaseUrl, app: await manifestFor(name), scenarios: 'all' } : {}),
      ...inputs,
    },
    eventName: 'schedule',
    payload: { schedule: '0 3 * * *' },
    apiUrl: gh.url,
    workspace,
    runId: 7000 + Object.keys(runs).length,
    env: { LOAD_MARK: MARK, TMPDIR: tmp, RUNNER_TEMP: runnerTemp },
  });
  return { ...r, tmp, runnerTemp };
}

const runs: Record<string, Awaited<ReturnType<typeof job>>> = {};

function judgements(r: ActionRun): { scenario: string; decision: string; reasons: string[] }[] {
  return r.outputs['judgement-path']!.split('\n')
    .filter(Boolean)
    .map((p) => JSON.parse(readFileSync(p, 'utf8')));
}

const byScenario = (js: { scenario: string; decision: string; reasons: string[] }[]) =>
  Object.fromEntries(js.map((j) => [j.scenario, { decision: j.decision, reasons: j.reasons }]));

let before: { marked: string[]; descendants: number[]; listening: Map<string, number> };

beforeAll(async () => {
  await gh.start();
  root = mkdtempSync(join(tmpdir(), 'replay-load-'));
  workspace = join(root, 'workspace');
  mkdirSync(workspace);
  const scenarios = ['version: 1', 'scenarios:'];
  IDS.forEach((id, i) => {
    const capsule = `${id}.capsule.json`;
    if (id !== BROKEN) {
      // Even scenarios have a related user (continue), odd ones do not (warn).
      const graph = [{ account_id: 'acct-local' }, ...(i % 2 ? [{ account_id: 'acct-friend' }] : [])];
      writeTestCapsule(join(workspace, capsule), {
        app: 'loadapp',
        subject: { account_id: 'acct-local' },
        graph,
        tables: {
          items: [1, 2].map((k) => ({ id: (i + 1) * 10 + k, account_id: 'acct-local', label: `${id}-${k}` })),
        },
      });
      const path = join(workspace, capsule);
      writeFileSync(
        path,
        readFileSync(path, 'utf8')
          .replace('"redaction":"raw"', '"redaction":"safe"')
          .replace('"acct-friend","reasons":["subject"]', '"acct-friend","reasons":["follows"]'),
      );
    }
    scenarios.push(
      `  - {id: ${id}, title: scenario ${id}, risk: low, capsule: ${capsule}, maxDurationSeconds: 300}`,
    );
  });
  writeFileSync(join(workspace, 'scenarios.yaml'), scenarios.join('\n'));
  before = { marked: markedProcesses(), descendants: descendants(), listening: listening() };
}, 60_000);

afterAll(async () => {
  await gh.stop();
  rmSync(root, { recursive: true, force: true });
});

describe('20 scenarios: sequential, 4 shards + aggregate', () => {
  it('every scenario runs exactly once across the shards and the aggregate equals the sequential result', async () => {
    runs.sequential = await job('sequential', {});
    const shards = await Promise.all([1, 2, 3, 4].map((i) => job(`shard-${i}`, { shard: `${i}/4` })));
    shards.forEach((s, i) => {
      runs[`shard-${i + 1}`] = s;
    });
    // The aggregate job downloads the shards' artifacts into one directory.
    const downloaded = join(root, 'downloaded');
    for (const [i, s] of shards.entries())
      cpSync(s.runnerTemp, join(downloaded, `shard-${i + 1}`), { recursive: true });
    runs.aggregate = await job('aggregate', {
      mode: 'aggregate',
      'judgements-dir': downloaded,
      'check-name': 'replay-env / load aggregate',
    });

    for (const [name, r] of Object.entries(runs)) expect(r.code, `${name}: ${r.stdout}${r.stderr}`).toBe(0);
    const sequential = judgements(runs.sequential);
    expect(sequential.map((j) => j.scenario)).toEqual(IDS);

    const perShard = shards.map((s) => judgements(s).map((j) => j.scenario));
    for (const ids of perShard) expect(ids.length).toBe(5);
    expect(perShard.flat().sort()).toEqual(IDS); // each exactly once, none twice

    const expected = byScenario(sequential);
    expect(byScenario(shards.flatMap(judgements))).toEqual(expected);
    expect(byScenario(judgements(runs.aggregate))).toEqual(expected);
    // Mixed results, so the comparison means something: continue, warn and the broken one's block.
    expect(expected[BROKEN]!.decision).toBe('block');
    expect(expected.s01!.decision).toBe('warn');
    expect(expected.s02!.decision, JSON.stringify(expected.s02)).toBe('continue');
    expect(runs.aggregate.outputs.decision).toBe(runs.sequential.outputs.decision);
    expect(runs.aggregate.outputs.decision).toBe('block');
    const check = gh.checkRuns.find((c) => c.name === 'replay-env / load aggregate')!;
    // fail-on decides the conclusion (docs/action.md): with `never` a block is reported, not failed.
    expect(check.conclusion).toBe('neutral');
    expect(check.output.summary).toContain('20 scenario(s): 1 block, 10 warn, 9 continue');
    expect(runs.sequential.summary).toContain('20 scenario(s): 1 block, 10 warn, 9 continue');
  }, 120_000);

  it('leaves no process, listening port or temp file behind', async () => {
    expect(Object.keys(runs).length, 'the runs above must have happened').toBe(6);
    // Processes: none started by the runs is alive (their children exit with them or are stopped).
    const deadline = Date.now() + 3000;
    while (markedProcesses().length > 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    expect(markedProcesses()).toEqual(before.marked);
    expect(descendants()).toEqual(before.descendants);

    // Ports: every job's app listened on one. No listening socket that is new since the start
    // may be held by a process of ours (other test files may open their own meanwhile).
    const ours = new Set([...descendants(), ...markedProcesses().map((m) => Number.parseInt(m, 10))]);
    const leaked = [...listening()]
      .filter(([inode]) => !before.listening.has(inode))
      .map(([inode, port]) => ({ port, owner: socketOwner(inode) }))
      .filter((s) => s.owner !== undefined && ours.has(s.owner));
    expect(leaked).toEqual([]);
    // And nobody at all still listens on the apps' ports (a process that escaped our marks too).
    expect(appPorts.length, 'one app port per replaying job (the aggregate replays nothing)').toBe(5);
    const stillListening = new Set(listening().values());
    expect(appPorts.filter((p) => stillListening.has(p))).toEqual([]);

    // Temp files: the runs' TMPDIR is empty; RUNNER_TEMP holds only the results (per scenario a
    // trace and a judgement, an empty artifacts folder for screenshots).
    for (const [name, r] of Object.entries(runs)) {
      expect(readdirSync(r.tmp), `${name}: TMPDIR`).toEqual([]);
      const unexpected = filesUnder(r.runnerTemp).filter(
        (f) => !/^replay-env\/\d+\/(s\d\d)\/\1\.(trace|judgement)\.json$/.test(f),
      );
      expect(unexpected, `${name}: RUNNER_TEMP`).toEqual([]);
    }
  });
});
