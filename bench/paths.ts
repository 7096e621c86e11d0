/**
 * The real paths, each against raw `psql \copy` of the same rows in the same run (not a test):
 *
 *   npm run bench                                   # 200k, 1M and 3M rows
 *   BENCH_SIZES=200000 npm run bench                # a quick run (or: npm run bench -- --sizes 200000)
 *   npm run bench -- --sizes 200000,1000000 --runs 3 --big-mb 200 --no-write
 *
 * Per size, an `events` table (bigint id, two text keys over 100 users, kind, timestamptz, small
 * nested jsonb payload, note; ~250 bytes/row) in a source database, and a subject whose graph has
 * 100 subjects (one edge: the subject's friends), so the export query joins `graph_keys`:
 *  (e) export: `psql \copy (select to_jsonb(e) from events e join <the 100 subjects> … order by
 *      e.id) to /dev/null` vs `export-postgres --redaction raw`, `--redaction safe`;
 *  (a) the capsule export-postgres wrote (integrity record on), loaded with `--load-strategy copy`
 *      and `jsonb`; (b) the same rows pretty-printed like the original tool's capsules; (c) the
 *      capsule gzipped (.json.gz); (d) an encrypted capsule (`--encrypt`, .json.gz.enc) — each vs
 *      `psql \copy events from <csv of the same rows>` into the same empty table.
 * Then one capsule whose single row holds a `--big-mb` MB value (0 skips it), loaded with copy.
 * Every CLI run is a child process (bundled JS, the launcher's node flags) under /usr/bin/time for
 * its peak RSS; materialize runs report their phases (`--json`). Medians of `--runs` (default 1).
 * Appends the table to bench/RESULTS.md (section "paths") unless `--no-write`.
 */
import { spawn } from 'node:child_process';
import {
  appendFileSync,
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { createGzip } from 'node:zlib';
import { build } from 'esbuild';
import pg from 'pg';
import { startEmbeddedPostgres } from '../src/postgres/embedded.js';
import { launcherNodeFlags, loadAverage } from './launcher-flags.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const OUT = join(ROOT, 'bench', 'out', 'paths');
const args = process.argv.slice(2);
const arg = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : def;
};
const SIZES = arg('sizes', process.env.BENCH_SIZES ?? '200000,1000000,3000000')
  .split(',')
  .map(Number);
const RUNS = Number(arg('runs', process.env.BENCH_RUNS ?? '1'));
const BIG_MB = Number(arg('big-mb', process.env.BENCH_BIG_MB ?? '200'));
const NO_WRITE = args.includes('--no-write');
const KEY = 'a'.repeat(64);

const SCHEMA = `create table events (
  id bigint primary key, tenant_id text not null, user_id text not null, kind text not null,
  created_at timestamptz not null, payload jsonb not null, note text)`;

const MANIFEST = {
  appId: 'benchpaths',
  adapter: 'postgres-subject-graph.v1',
  subjectKeys: ['tenant_id', 'user_id'],
  postgres: {
    graphEdges: [
      "select f.tenant_id, f.friend_id as user_id, 'friend'::text as reason from friends f join params p on f.tenant_id = p.tenant_id and f.user_id = p.user_id",
    ],
    tables: [
      {
        name: 'events',
        alias: 'e',
        from: 'events e join graph_keys g on g.tenant_id = e.tenant_id and g.user_id = e.user_id',
        orderBy: 'e.id',
        deletePredicate: 't.tenant_id = g.tenant_id and t.user_id = g.user_id',
      },
    ],
  },
  redactionRules: [{ fields: ['email'], action: 'hash' }],
};

interface Timed {
  wallMs: number;
  rssKb: number | null;
  cpuS: number | null;
  stdout: string;
}

function timed(cmd: string, argv: string[], env: NodeJS.ProcessEnv = {}): Promise<Timed> {
  const useTime = existsSync('/usr/bin/time');
  const rssFile = join(OUT, 'time-rss.txt');
  const [c, a] = useTime ? ['/usr/bin/time', ['-f', '%M %U %S', '-o', rssFile, cmd, ...argv]] : [cmd, argv];
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const child = spawn(c, a as string[], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const wallMs = performance.now() - t;
      if (code !== 0)
        return reject(new Error(`${cmd} ${argv.join(' ')} exited ${code}: ${stderr.slice(-2000)}`));
      const f = useTime ? (readFileSync(rssFile, 'utf8').trim().split('\n').pop() ?? '').split(' ') : [];
      resolve({
        wallMs,
        rssKb: useTime ? Number(f[0]) : null,
        cpuS: useTime ? Number(f[1]) + Number(f[2]) : null,
        stdout,
      });
    });
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
}

interface Row {
  size: number;
  path: string;
  raw: string;
  rawMs: number;
  ms: number;
  rssKb: number | null;
  phases?: Record<string, number>;
  hashCheck?: string;
  reader?: string;
  bytes?: number;
}

async function buildCli(): Promise<string> {
  await build({
    entryPoints: [join(ROOT, 'src', 'cli', 'main.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    outfile: join(OUT, 'cli-main.mjs'),
    logLevel: 'warning',
  });
  const cli = join(OUT, 'replay-env-bench.mjs');
  writeFileSync(cli, `import { main } from './cli-main.mjs';\nawait main(process.argv);\n`);
  return cli;
}

async function fillSource(url: string, n: number): Promise<void> {
  const c = new pg.Client(url);
  await c.connect();
  try {
    await c.query(SCHEMA);
    await c.query('create table friends (tenant_id text, user_id text, friend_id text)');
    await c.query("insert into friends select 't1', 'u0', 'u' || i from generate_series(1, 99) i");
    await c.query(
      `insert into events select i, 't1', 'u' || (i % 100), (array['click','view','purchase','signup','share'])[1 + i % 5],
         timestamptz '2026-01-01' + make_interval(secs => i),
         jsonb_build_object('meta', jsonb_build_object('ok', i % 2 = 0, 'ref', 'r-' || (i * 7919) % 100000, 'src', case when i % 3 = 0 then 'ios' else 'web' end),
           'tags', jsonb_build_array('alpha', 't' || i % 17), 'score', (i * 31) % 1000, 'session', 's-' || (i * 104729) % 1000003),
         case when i % 10 = 0 then 'note ' || i end
       from generate_series(1::bigint, $1::bigint) i`,
      [n],
    );
    await c.query('vacuum analyze events');
  } finally {
    await c.end();
  }
}

/** The original tool's layout: the same capsule, every row pretty-printed over several lines. */
async function prettyPrint(from: string, to: string): Promise<void> {
  const out = createWriteStream(to);
  const rl = createInterface({ input: createReadStream(from), crlfDelay: Number.POSITIVE_INFINITY });
  let inTable = false;
  let buf = '';
  const flush = async () => {
    if (!out.write(buf)) await new Promise<void>((r) => out.once('drain', () => r()));
    buf = '';
  };
  for await (const line of rl) {
    const t = line.trim();
    if (inTable && t.startsWith('{')) {
      const comma = t.endsWith(',');
      const row = JSON.parse(comma ? t.slice(0, -1) : t) as unknown;
      buf += `${JSON.stringify(row, null, 2).replace(/^/gm, '      ')}${comma ? ',' : ''}\n`;
    } else {
      inTable = /":\s*\[$/.test(t) && !t.startsWith('"graph"');
      buf += `  ${line}\n`;
    }
    if (buf.length > 1 << 16) await flush();
  }
  await flush();
  await new Promise<void>((r, j) => out.end((e?: Error | null) => (e ? j(e) : r())));
}

async function bigValueCapsule(path: string, mb: number): Promise<void> {
  const out = createWriteStream(path);
  const w = (s: string) =>
    out.write(s) ? Promise.resolve() : new Promise<void>((r) => out.once('drain', () => r()));
  await w(
    `{"schemaVersion":1,\n"app":"benchpaths",\n"adapter":"postgres-subject-graph.v1",\n"subject":{"tenant_id":"t1","user_id":"u0"},\n"graph":[\n{"tenant_id":"t1","user_id":"u0","reasons":["subject"]}\n],\n"redaction":"raw",\n"tables":{\n"events":[\n{"id": 1, "kind": "big", "note": "`,
  );
  const chunk = 'abcdefghij'.repeat(1 << 16);
  for (let left = mb << 20; left > 0; left -= chunk.length)
    await w(chunk.slice(0, Math.min(left, chunk.length)));
  await w(
    `", "payload": {}, "user_id": "u0", "tenant_id": "t1", "created_at": "2026-01-01T00:00:00+00:00"}\n]\n}\n}\n`,
  );
  await new Promise<void>((r) => out.end(() => r()));
}

async function main() {
  mkdirSync(OUT, { recursive: true });
  const loadBefore = loadAverage();
  const started = new Date().toISOString();
  const node = ['node', ...launcherNodeFlags()];
  const cli = await buildCli();
  const manifestPath = join(OUT, 'manifest.json');
  writeFileSync(manifestPath, JSON.stringify(MANIFEST));
  const server = await startEmbeddedPostgres({ parentDir: OUT });
  const rows: Row[] = [];
  const run = (argv: string[], env: NodeJS.ProcessEnv = {}) =>
    timed(node[0]!, [...node.slice(1), cli, ...argv], env);
  try {
    for (const n of SIZES) {
      console.log(`--- ${n} rows`);
      const src = await server.createDatabase(`src_${n}`);
      const tgt = await server.createDatabase(`tgt_${n}`);
      await fillSource(src, n);
      const t = new pg.Client(tgt);
      await t.connect();
      await t.query(SCHEMA);
      const csv = join(OUT, `events-${n}.csv`);
      await timed('psql', [src, '-X', '-q', '-c', `\\copy events to '${csv}' csv`]);
      const graphSql = "(select 't1'::text as tenant_id, 'u' || i as user_id from generate_series(0, 99) i)";
      const exportRaw = `select to_jsonb(e) from events e join ${graphSql} g on g.tenant_id = e.tenant_id and g.user_id = e.user_id order by e.id`;

      const cap = join(OUT, `cap-${n}.json`);
      const exportArgs = (out: string, mode: string) => [
        'export-postgres',
        '--app',
        manifestPath,
        '--subject',
        'tenant_id=t1',
        '--subject',
        'user_id=u0',
        '--redaction',
        mode,
        '--out',
        out,
      ];
      const exportEnv = { REPLAY_CAPSULE_KEY: KEY };
      const exportUrlArgs = ['--db-url', src];
      const exportVia = async (out: string, mode: string, extra: string[] = []) =>
        run([...exportArgs(out, mode), ...exportUrlArgs, ...extra], exportEnv);

      // (e) export
      for (const mode of ['raw', 'safe'] as const) {
        const raws: number[] = [];
        const ours: Timed[] = [];
        for (let r = 0; r < RUNS; r++) {
          raws.push(
            (await timed('psql', [src, '-X', '-q', '-c', `\\copy (${exportRaw}) to '/dev/null'`])).wallMs,
          );
          ours.push(await exportVia(mode === 'raw' ? cap : join(OUT, `cap-${n}-safe.json`), mode));
        }
        rows.push({
          size: n,
          path: `(e) export-postgres --redaction ${mode}`,
          raw: '\\copy (select to_jsonb …) to /dev/null',
          rawMs: median(raws),
          ms: median(ours.map((o) => o.wallMs)),
          rssKb: median(ours.map((o) => o.rssKb ?? 0)),
          bytes: statSync(mode === 'raw' ? cap : join(OUT, `cap-${n}-safe.json`)).size,
        });
        console.log(rows.at(-1));
      }
      const encrypted = join(OUT, `cap-${n}.json.gz.enc`);
      await exportVia(encrypted, 'raw', ['--encrypt']);
      const pretty = join(OUT, `cap-${n}-pretty.json`);
      await prettyPrint(cap, pretty);
      const gz = join(OUT, `cap-${n}.json.gz`);
      await pipeline(createReadStream(cap), createGzip(), createWriteStream(gz));

      const rawLoad = async () => {
        await t.query('truncate events');
        await t.query('checkpoint');
        return (await timed('psql', [tgt, '-X', '-q', '-c', `\\copy events from '${csv}' csv`])).wallMs;
      };
      const cases: [string, string, string][] = [
        ['(a) export-postgres capsule, copy', cap, 'copy'],
        ['(a) export-postgres capsule, jsonb', cap, 'jsonb'],
        ['(b) pretty-printed (original layout), copy', pretty, 'copy'],
        ['(c) .json.gz, copy', gz, 'copy'],
        ['(d) encrypted (.json.gz.enc), copy', encrypted, 'copy'],
      ];
      for (const [label, file, strategy] of cases) {
        const raws: number[] = [];
        const ours: { t: Timed; r: Record<string, unknown> }[] = [];
        for (let r = 0; r < RUNS; r++) {
          raws.push(await rawLoad());
          await t.query('truncate events');
          await t.query('checkpoint');
          const o = await run(
            [
              'materialize-postgres',
              '--app',
              manifestPath,
              '--capsule',
              file,
              '--db-url',
              tgt,
              '--load-strategy',
              strategy,
              '--json',
            ],
            { REPLAY_CAPSULE_KEY: KEY },
          );
          ours.push({ t: o, r: JSON.parse(o.stdout) as Record<string, unknown> });
        }
        const mid = ours.sort((x, y) => x.t.wallMs - y.t.wallMs)[Math.floor((ours.length - 1) / 2)]!;
        rows.push({
          size: n,
          path: label,
          raw: '\\copy events from csv',
          rawMs: median(raws),
          ms: mid.t.wallMs,
          rssKb: median(ours.map((o) => o.t.rssKb ?? 0)),
          phases: mid.r.phases as Record<string, number>,
          hashCheck: mid.r.hashCheck as string,
          reader: mid.r.reader as string,
          bytes: statSync(file).size,
        });
        console.log(rows.at(-1));
      }
      await t.end();
      for (const f of [cap, pretty, gz, encrypted, csv, join(OUT, `cap-${n}-safe.json`)])
        rmSync(f, { force: true });
    }
    if (BIG_MB > 0) {
      const tgt = await server.createDatabase('tgt_big');
      const c = new pg.Client(tgt);
      await c.connect();
      await c.query(SCHEMA);
      await c.end();
      const big = join(OUT, `big-${BIG_MB}.json`);
      await bigValueCapsule(big, BIG_MB);
      const o = await run([
        'materialize-postgres',
        '--app',
        manifestPath,
        '--capsule',
        big,
        '--db-url',
        tgt,
        '--load-strategy',
        'copy',
        '--json',
      ]);
      const r = JSON.parse(o.stdout) as Record<string, unknown>;
      rows.push({
        size: 1,
        path: `one ${BIG_MB} MB value, copy (target < 10 s)`,
        raw: '—',
        rawMs: Number.NaN,
        ms: o.wallMs,
        rssKb: o.rssKb,
        phases: r.phases as Record<string, number>,
        bytes: statSync(big).size,
      });
      console.log(rows.at(-1));
      rmSync(big, { force: true });
    }
  } finally {
    await server.stop();
  }
  report(rows, started, loadBefore);
}

function fmtPhases(p: Record<string, number> | undefined): string {
  if (!p) return '';
  const keep = ['index', 'load', 'verify'];
  const load = p.load ?? 0;
  const parts = keep.filter((k) => p[k] !== undefined).map((k) => `${k} ${(p[k]! / 1000).toFixed(1)}`);
  if (p.verify !== undefined && load > 0) parts.push(`verify/load ${Math.round((100 * p.verify) / load)}%`);
  return parts.join(', ');
}

function report(rows: Row[], started: string, loadBefore: string): void {
  const cpu = os.cpus();
  const lines = [
    `| rows | path | raw psql (s) | replay-env (s) | ratio raw/ours | client peak RSS | phases (s) | hash check / reader | file |`,
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.size.toLocaleString('en-US')} | ${r.path} | ${Number.isNaN(r.rawMs) ? '—' : (r.rawMs / 1000).toFixed(2)} | ${(r.ms / 1000).toFixed(2)} | ${Number.isNaN(r.rawMs) ? '—' : (r.rawMs / r.ms).toFixed(2)} | ${r.rssKb ? `${Math.round(r.rssKb / 1024)} MB` : '?'} | ${fmtPhases(r.phases)} | ${[r.hashCheck, r.reader].filter(Boolean).join(' / ')} | ${r.bytes ? `${Math.round(r.bytes / 1048576)} MiB` : ''} |`,
    ),
  ];
  const text = [
    '',
    `### paths: ${SIZES.join(', ')} rows (${started})`,
    '',
    `Command: \`npm run bench -- --sizes ${SIZES.join(',')} --runs ${RUNS} --big-mb ${BIG_MB}\`. Machine: ${cpu.length} vCPU (${cpu[0]?.model ?? '?'}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, embedded PostgreSQL. Load average before: ${loadBefore}; after: ${loadAverage()}. Ratios from the same run; medians of ${RUNS}. Wall time of the CLI child process (includes its start); phases from its --json.`,
    '',
    ...lines,
    '',
  ].join('\n');
  console.log(text);
  if (!NO_WRITE) appendFileSync(join(ROOT, 'bench', 'RESULTS.md'), text);
}

await main();
