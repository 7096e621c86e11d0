/**
 * Export benchmark (not a test): `npm run bench:export -- [--rows 1000000] [--row-bytes 273] [--runs 2] [--gzip]`
 *
 * Generates an `events` table in an embedded Postgres and, in the same run, times
 *  (a) the raw limit: `psql -c "\copy (select to_jsonb(e) from events e … order by e.id) to /dev/null"`
 *      (or pg-copy-streams into a sink when psql is not installed), and
 *  (b) `replay-env export-postgres` of a graph covering all rows (raw and safe), as a child process
 *      under /usr/bin/time for its peak RSS.
 * The Postgres backend's memory is sampled from /proc/<backend pid>/status while each runs.
 * Prints a table and appends it to bench/RESULTS.md (section "export").
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { startEmbeddedPostgres } from '../src/postgres/embedded.js';
import { launcherNodeFlags, loadAverage } from './launcher-flags.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const OUT = join(ROOT, 'bench', 'out');
const args = process.argv.slice(2);
const arg = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : def;
};
const ROWS = Number(arg('rows', '1000000'));
const ROW_BYTES = Number(arg('row-bytes', '273'));
const RUNS = Number(arg('runs', '2'));
const GZIP = args.includes('--gzip');

interface MemPeak {
  rssAnonKb: number;
  hwmKb: number;
  /** CPU seconds (user + system) the backend used, from /proc/<pid>/stat. */
  cpuS: number;
}

/** Samples the memory of the backend serving `appName` until stopped. */
function sampleBackend(url: string, appName: string): { stop: () => Promise<MemPeak> } {
  const peak: MemPeak = { rssAnonKb: 0, hwmKb: 0, cpuS: 0 };
  let running = true;
  const client = new pg.Client({ connectionString: url, application_name: 'bench-sampler' });
  client.on('error', () => {});
  const loop = (async () => {
    await client.connect();
    let pid: number | null = null;
    while (running) {
      if (pid === null) {
        const r = await client.query('select pid from pg_stat_activity where application_name = $1 limit 1', [
          appName,
        ]);
        pid = r.rows[0]?.pid ?? null;
      }
      if (pid !== null) {
        try {
          const status = readFileSync(`/proc/${pid}/status`, 'utf8');
          const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
          peak.rssAnonKb = Math.max(peak.rssAnonKb, kb('RssAnon'));
          peak.hwmKb = Math.max(peak.hwmKb, kb('VmHWM'));
          // Fields after the command name: utime and stime are the 12th and 13th.
          const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
          const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
          peak.cpuS = Math.max(peak.cpuS, (Number(f[11]) + Number(f[12])) / 100);
        } catch {
          pid = null; // backend gone (between runs)
        }
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    await client.end();
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return peak;
    },
  };
}

interface RunResult {
  label: string;
  wallMs: number;
  rows: number;
  clientRssKb: number | null;
  clientCpuS: number | null;
  backend: MemPeak;
  bytes: number;
  exporterMs?: number;
}

function timed(
  cmd: string,
  argv: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ wallMs: number; rssKb: number | null; cpuS: number | null; stdout: string; stderr: string }> {
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
      if (code !== 0) return reject(new Error(`${cmd} exited ${code}: ${stderr.slice(-2000)}`));
      const fields = useTime ? (readFileSync(rssFile, 'utf8').trim().split('\n').pop() ?? '').split(' ') : [];
      const rssKb = useTime ? Number(fields[0]) : null;
      const cpuS = useTime ? Number(fields[1]) + Number(fields[2]) : null;
      resolve({ wallMs, rssKb, cpuS, stdout, stderr });
    });
  });
}

async function describeMachine(url: string, hasPsql: boolean): Promise<string> {
  const c = new pg.Client(url);
  await c.connect();
  const version = (await c.query('show server_version')).rows[0].server_version;
  await c.end();
  const mem = execFileSync('free', ['-h']).toString().split('\n')[1]?.replace(/\s+/g, ' ');
  const psql = hasPsql ? `, ${execFileSync('psql', ['--version']).toString().trim()}` : '';
  return `${os.cpus().length} vCPU (${os.cpus()[0]?.model ?? '?'}), ${mem}, Node ${process.version}, PostgreSQL ${version} (embedded, fsync off)${psql}`;
}

async function main() {
  mkdirSync(OUT, { recursive: true });
  const loadBefore = loadAverage();
  const nodeFlags = launcherNodeFlags();
  console.log(`export bench: ${ROWS} rows of ~${ROW_BYTES} bytes, ${RUNS} run(s) each`);
  const server = await startEmbeddedPostgres({ parentDir: OUT });
  try {
    const url = await server.createDatabase('bench');
    const admin = new pg.Client(url);
    admin.on('error', () => {});
    await admin.connect();
    const t = performance.now();
    await admin.query(`create table events (
      id bigint primary key, tenant_id text not null, user_id text not null, kind text not null,
      created_at timestamptz not null, amount numeric(20,6), payload jsonb not null, note text)`);
    // Padding in `note` brings the to_jsonb text to about ROW_BYTES.
    const sample = async (pad: number) =>
      Number(
        (
          await admin.query(
            `select avg(length(to_jsonb(e)::text)) as n from (select i as id, 't-bench' as tenant_id, 'u-' || (i % 1000) as user_id,
             'purchase' as kind, timestamptz '2026-01-01' as created_at, (i * 1.25)::numeric(20,6) as amount,
             jsonb_build_object('path', '/app/items/' || i, 'ua', 'Mozilla/5.0', 'n', i, 'tags', jsonb_build_array('a', 'b')) as payload,
             rpad('n', $1, '.') as note from generate_series(100000, 100100) i) e`,
            [pad],
          )
        ).rows[0].n,
      );
    const basePad = Math.max(1, Math.round(ROW_BYTES - ((await sample(1)) - 1)));
    await admin.query(
      `insert into events select i, 't-bench', 'u-' || (i % 1000), (array['click','view','purchase','login'])[1 + i % 4],
         timestamptz '2026-01-01' + make_interval(secs => i), (i * 1.25)::numeric(20,6),
         jsonb_build_object('path', '/app/items/' || i, 'ua', 'Mozilla/5.0', 'n', i, 'tags', jsonb_build_array('a', 'b')),
         rpad('n', $2, '.')
       from generate_series(1, $1) i`,
      [ROWS, basePad],
    );
    await admin.query('vacuum analyze events');
    const avg = Number(
      (await admin.query('select avg(length(to_jsonb(e)::text)) as n from events e')).rows[0].n,
    );
    const tableSize = (await admin.query(`select pg_size_pretty(pg_total_relation_size('events')) as s`))
      .rows[0].s;
    await admin.end();
    const genMs = performance.now() - t;
    console.log(
      `generated in ${(genMs / 1000).toFixed(1)} s; avg to_jsonb row ${avg.toFixed(1)} bytes; table ${tableSize}`,
    );

    const manifestPath = join(OUT, 'bench-manifest.json');
    writeFileSync(
      manifestPath,
      JSON.stringify({
        appId: 'bench',
        adapter: 'postgres-subject-graph.v1',
        subjectKeys: ['tenant_id'],
        postgres: {
          graphEdges: [],
          tables: [
            {
              name: 'events',
              alias: 'e',
              from: 'events e join graph_keys g on g.tenant_id = e.tenant_id',
              orderBy: 'e.id',
            },
          ],
        },
        redactionRules: [{ fields: ['email'], action: 'hash' }],
      }),
    );

    // The CLI as plain JS (no tsx loader in the measured process).
    const cliBundle = join(OUT, 'replay-env-bench.mjs');
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
    writeFileSync(cliBundle, `import { main } from './cli-main.mjs';\nawait main(process.argv);\n`);

    const hasPsql = spawnSync('which', ['psql']).status === 0;
    const baselineSql = `select to_jsonb(e) from events e join (select 't-bench'::text as tenant_id) g on g.tenant_id = e.tenant_id order by e.id`;

    async function baseline(): Promise<RunResult> {
      const app = 'bench-baseline';
      const sampler = sampleBackend(url, app);
      let r: { wallMs: number; rssKb: number | null; cpuS: number | null };
      let bytes = 0;
      if (hasPsql) {
        r = await timed('psql', [url, '-X', '-q', '-c', `\\copy (${baselineSql}) to '/dev/null'`], {
          PGAPPNAME: app,
        });
      } else {
        const c = new pg.Client({ connectionString: url, application_name: app });
        await c.connect();
        const t0 = performance.now();
        for await (const chunk of c.query(copyStreams.to(`copy (${baselineSql}) to stdout`)))
          bytes += chunk.length;
        r = { wallMs: performance.now() - t0, rssKb: null, cpuS: null };
        await c.end();
      }
      return {
        label: hasPsql ? '(a) psql \\copy to /dev/null' : '(a) COPY via pg-copy-streams to a sink',
        wallMs: r.wallMs,
        rows: ROWS,
        clientRssKb: r.rssKb,
        clientCpuS: r.cpuS,
        backend: await sampler.stop(),
        bytes,
      };
    }

    async function exporter(mode: 'raw' | 'safe', gzip: boolean): Promise<RunResult> {
      const app = 'replay-env export';
      const out = join(OUT, `bench-${mode}.json${gzip ? '.gz' : ''}`);
      rmSync(out, { force: true });
      const sampler = sampleBackend(url, app);
      const r = await timed(
        process.execPath,
        [
          ...nodeFlags,
          cliBundle,
          'export-postgres',
          '--app',
          manifestPath,
          '--subject',
          'tenant_id=t-bench',
          '--db-url',
          url,
          '--redaction',
          mode,
          '--out',
          out,
          '--json',
        ],
        { CI: 'true' },
      );
      const res = JSON.parse(r.stdout) as {
        tables: { name: string; rows: number }[];
        timings: { totalMs: number };
      };
      const exported = res.tables.find((t) => t.name === 'events')?.rows;
      if (exported !== ROWS) throw new Error(`exported ${exported} rows, expected ${ROWS}`);
      const bytes = statSync(out).size;
      rmSync(out, { force: true });
      return {
        label: `(b) replay-env export-postgres --redaction ${mode}${gzip ? ' (.json.gz)' : ''}`,
        wallMs: r.wallMs,
        rows: ROWS,
        clientRssKb: r.rssKb,
        clientCpuS: r.cpuS,
        backend: await sampler.stop(),
        bytes,
        exporterMs: res.timings.totalMs,
      };
    }

    await baseline(); // warm the cache
    const results: RunResult[] = [];
    for (let i = 0; i < RUNS; i++) {
      results.push(await baseline());
      results.push(await exporter('raw', false));
      results.push(await exporter('safe', false));
      if (GZIP) results.push(await exporter('safe', true));
    }
    const best = (label: string) =>
      results.filter((r) => r.label === label).sort((a, b) => a.wallMs - b.wallMs)[0]!;
    const labels = [...new Set(results.map((r) => r.label))];
    const a = best(labels[0]!);
    const mb = (kb: number | null) => (kb === null ? 'n/a' : `${(kb / 1024).toFixed(0)} MB`);
    const lines = [
      `| run | wall (best of ${RUNS}) | rows/s | ratio a/b (≥ 0.7 wanted) | client peak RSS | backend peak RssAnon / VmHWM | output |`,
      '| --- | --- | --- | --- | --- | --- | --- |',
      ...labels.map((l) => {
        const r = best(l);
        const ratio = r === a ? '—' : (a.wallMs / r.wallMs).toFixed(2);
        return `| ${l} | ${(r.wallMs / 1000).toFixed(2)} s${r.exporterMs ? ` (in-process ${(r.exporterMs / 1000).toFixed(2)} s)` : ''} | ${Math.round(r.rows / (r.wallMs / 1000)).toLocaleString('en-US')} | ${ratio} | ${mb(r.clientRssKb)} | ${mb(r.backend.rssAnonKb)} / ${mb(r.backend.hwmKb)} | ${r.bytes ? `${(r.bytes / 1048576).toFixed(0)} MiB` : '-'} |`;
      }),
    ];
    // CPU time does not depend on what else the machine runs: on 2 otherwise idle cores the
    // backend and the exporter run in parallel, so wall ≈ max(backend CPU, client CPU).
    const us = (s: number | null) => (s === null ? 'n/a' : `${((s * 1e6) / ROWS).toFixed(1)} µs/row`);
    const cpuLines = [
      '| run | backend CPU | client CPU | CPU-bound ratio estimate a/b |',
      '| --- | --- | --- | --- |',
      ...labels.map((l) => {
        const r = best(l);
        const est = r === a ? '—' : (a.backend.cpuS / Math.max(r.backend.cpuS, r.clientCpuS ?? 0)).toFixed(2);
        return `| ${l} | ${r.backend.cpuS.toFixed(2)} s (${us(r.backend.cpuS)}) | ${r.clientCpuS === null ? 'n/a' : `${r.clientCpuS.toFixed(2)} s (${us(r.clientCpuS)})`} | ${est} |`;
      }),
    ];
    const all = results.map(
      (r) =>
        `${r.label}: ${(r.wallMs / 1000).toFixed(2)} s, client ${mb(r.clientRssKb)} / ${r.clientCpuS?.toFixed(2) ?? 'n/a'} s CPU, backend ${mb(r.backend.rssAnonKb)} / ${r.backend.cpuS.toFixed(2)} s CPU`,
    );
    const machine = await describeMachine(url, hasPsql);
    const report = [
      '',
      `### export: ${ROWS.toLocaleString('en-US')} rows, ~${avg.toFixed(0)} bytes/row (${new Date().toISOString()})`,
      '',
      `Machine: ${machine}. Load average (1/5/15 min) before: ${loadBefore}; after: ${loadAverage()}. Table: ${tableSize}. Graph: one subject covering every row; \`orderBy e.id\`.`,
      `(b) runs the CLI as a child process (bundled JS, \`node ${nodeFlags.join(' ')}\`, the launcher's flags); wall time includes process start. Client RSS from \`/usr/bin/time -f %M\`; backend memory sampled every 50 ms from /proc/<pid>/status of the serving backend.`,
      '',
      ...lines,
      '',
      ...cpuLines,
      '',
      'All runs:',
      '',
      ...all.map((l) => `- ${l}`),
      '',
    ].join('\n');
    console.log(report);
    const resultsFile = join(ROOT, 'bench', 'RESULTS.md');
    if (!existsSync(resultsFile)) writeFileSync(resultsFile, '# Benchmark results\n');
    // Insert at the end of the "## export" section (other benches own other sections).
    const current = readFileSync(resultsFile, 'utf8');
    const at = current.indexOf('\n## export\n');
    if (at < 0) appendFileSync(resultsFile, `\n## export\n${report}`);
    else {
      const next = current.indexOf('\n## ', at + 1);
      const cut = next < 0 ? current.length : next;
      writeFileSync(resultsFile, current.slice(0, cut) + report + current.slice(cut));
    }
    console.log(`appended to ${resultsFile}`);
  } catch (err) {
    console.error(err);
    process.exitCode = 1;
  } finally {
    await server.stop();
  }
}

await main();
