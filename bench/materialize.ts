/**
 * Materialize benchmark (not a test): `npm run bench:materialize -- [--sizes 100000,1000000] [--runs 3]
 * [--integrity] [--floats] [--no-write]`
 *
 * Generates `events` rows (tenant/user ids over 100 users, a small nested jsonb payload, a
 * timestamptz, ~273 bytes/row) once as a capsule in the exporter's layout (one row per line) and
 * once as CSV, then in the same run times, with `truncate` before each run:
 *  (a) raw `psql -c "\copy events (…) from 'file' csv"`,
 *  (b) `materialize-postgres --load-strategy copy`, (c) `--load-strategy jsonb`,
 * each repeated --runs times (median reported). (b)/(c) run in a child process (bundled JS, plain
 * node) that reports its in-process duration, phases and peak RSS (`process.resourceUsage`).
 * `--integrity` adds an integrity record so the content-hash verification is timed too;
 * `--floats` adds a fractional number to every payload (rows then take the exact-number parser).
 * Appends the figures to bench/RESULTS.md (section "materialize").
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  appendFileSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import pg from 'pg';
import { canonicalJson, contentHash, INTEGRITY_ALGORITHM_V1, TableHasher } from '../src/capsule/integrity.js';
import { startEmbeddedPostgres } from '../src/postgres/embedded.js';
import { launcherNodeFlags, loadAverage } from './launcher-flags.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const OUT = join(ROOT, 'bench', 'out', 'materialize');
const args = process.argv.slice(2);
const arg = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : def;
};
const SIZES = arg('sizes', '100000,1000000').split(',').map(Number);
const RUNS = Number(arg('runs', '3'));
const INTEGRITY = args.includes('--integrity');
const FLOATS = args.includes('--floats');
/** Print only; do not append to bench/RESULTS.md. */
const NO_WRITE = args.includes('--no-write');

const SCHEMA = `create table events (
  id bigint primary key,
  tenant_id text not null,
  user_id text not null,
  kind text not null,
  created_at timestamptz not null,
  payload jsonb not null,
  note text
)`;
const COLUMNS = ['id', 'tenant_id', 'user_id', 'kind', 'created_at', 'payload', 'note'];
const KINDS = ['click', 'view', 'purchase', 'signup', 'share'];

const MANIFEST = {
  appId: 'benchapp',
  adapter: 'postgres-subject-graph.v1',
  subjectKeys: ['tenant_id', 'user_id'],
  postgres: {
    tables: [{ name: 'events', deletePredicate: 't.tenant_id = g.tenant_id and t.user_id = g.user_id' }],
  },
};

function row(i: number): Record<string, unknown> {
  const u = i % 100;
  const t = new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString().replace('Z', '');
  const payload: Record<string, unknown> = {
    meta: { ok: i % 2 === 0, ref: `r-${(i * 7919) % 100000}`, src: i % 3 ? 'web' : 'ios' },
    tags: ['alpha', `t${i % 17}`],
    score: (i * 31) % 1000,
    session: `s-${(i * 104729) % 1000003}`,
  };
  if (FLOATS) payload.ratio = Number(((i % 1000) / 997).toFixed(6));
  return {
    id: i + 1,
    kind: KINDS[i % KINDS.length],
    note: `note for event ${i + 1}: user u-${String(u).padStart(3, '0')} did something`,
    payload,
    user_id: `u-${String(u).padStart(3, '0')}`,
    tenant_id: 't-bench',
    created_at: `${t}123+00:00`,
  };
}

async function writeFiles(n: number): Promise<{ capsule: string; csv: string }> {
  mkdirSync(OUT, { recursive: true });
  const tag = `${n}${FLOATS ? '-floats' : ''}${INTEGRITY ? '-integrity' : ''}`;
  const capsule = join(OUT, `events-${tag}.json`);
  const csv = join(OUT, `events-${n}${FLOATS ? '-floats' : ''}.csv`);
  if (existsSync(capsule) && existsSync(csv)) return { capsule, csv };
  const graph = Array.from({ length: 100 }, (_, u) => ({
    reasons: ['subject'],
    tenant_id: 't-bench',
    user_id: `u-${String(u).padStart(3, '0')}`,
  }));
  const cap = createWriteStream(capsule);
  const out = createWriteStream(csv);
  const write = async (s: import('node:fs').WriteStream, text: string) => {
    if (!s.write(text)) await new Promise<void>((r) => s.once('drain', () => r()));
  };
  const subject = { tenant_id: 't-bench', user_id: 'u-000' };
  await write(
    cap,
    `{"schemaVersion":1,\n"app":"benchapp",\n"adapter":"postgres-subject-graph.v1",\n"subject":${JSON.stringify(subject)},\n"graph":[\n${graph.map((g) => JSON.stringify(g)).join(',\n')}\n],\n"redaction":"raw",\n"tables":{\n"events":[\n`,
  );
  const hasher = new TableHasher();
  let buf = '';
  let cbuf = '';
  for (let i = 0; i < n; i++) {
    const r = row(i);
    const text = JSON.stringify(r);
    if (INTEGRITY) hasher.addCanonical(canonicalJson(r));
    buf += i < n - 1 ? `${text},\n` : `${text}\n`;
    cbuf += `${COLUMNS.map((c) => {
      const v = c === 'payload' ? JSON.stringify(r[c]) : String(r[c]);
      return /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
    }).join(',')}\n`;
    if (buf.length > 1 << 20) {
      await write(cap, buf);
      await write(out, cbuf);
      buf = '';
      cbuf = '';
    }
  }
  await write(cap, buf);
  await write(out, cbuf);
  const tables = { events: { rows: n, sha256: hasher.digest() } };
  const integrity = INTEGRITY
    ? `,\n"integrity":${JSON.stringify({ algorithm: INTEGRITY_ALGORITHM_V1, exporter: { name: 'bench', version: '0' }, tables, contentSha256: contentHash(subject, graph, tables) })}`
    : '';
  await write(cap, `]\n}${integrity}\n}\n`);
  await Promise.all([new Promise((r) => cap.end(r)), new Promise((r) => out.end(r))]);
  return { capsule, csv };
}

interface Run {
  ms: number;
  rssMb: number | null;
  phases?: Record<string, number>;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main() {
  const loadBefore = loadAverage();
  const nodeFlags = launcherNodeFlags();
  const server = await startEmbeddedPostgres();
  try {
    const url = await server.createDatabase('bench_materialize');
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query(SCHEMA);
    const version = (await client.query('show server_version')).rows[0].server_version;

    // The materializer as plain JS in a child process: no tsx in the measured process.
    mkdirSync(OUT, { recursive: true });
    writeFileSync(join(OUT, 'manifest.json'), JSON.stringify(MANIFEST));
    writeFileSync(
      join(OUT, 'runner.ts'),
      `import { readFileSync } from 'node:fs';
import { validateManifest } from '../../../src/manifest/load.js';
import { materializeCapsule } from '../../../src/postgres/materialize/materialize-capsule.js';
const [capsule, url, strategy] = process.argv.slice(2) as [string, string, 'copy' | 'jsonb'];
const manifest = validateManifest(JSON.parse(readFileSync(${JSON.stringify(join(OUT, 'manifest.json'))}, 'utf8')), 'bench').manifest;
const r = await materializeCapsule({ manifest, capsulePath: capsule, url, strategy });
process.stdout.write(JSON.stringify({ ms: r.durationMs, phases: r.phases, reader: r.reader, hash: r.hashCheck, rssKb: process.resourceUsage().maxRSS }));
`,
    );
    await build({
      entryPoints: [join(OUT, 'runner.ts')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      outfile: join(OUT, 'runner.mjs'),
      logLevel: 'warning',
    });
    const hasPsql = spawnSync('which', ['psql']).status === 0;
    if (!hasPsql) throw new Error('psql is needed for the raw baseline');

    const results: { size: number; label: string; runs: Run[] }[] = [];
    for (const size of SIZES) {
      process.stderr.write(`generating ${size} rows…\n`);
      const { capsule, csv } = await writeFiles(size);
      const raw: Run[] = [];
      const copy: Run[] = [];
      const jsonb: Run[] = [];
      for (let run = 0; run < RUNS; run++) {
        await client.query('truncate events');
        await client.query('checkpoint');
        const t0 = performance.now();
        const p = spawnSync(
          'psql',
          [url, '-v', 'ON_ERROR_STOP=1', '-c', `\\copy events (${COLUMNS.join(', ')}) from '${csv}' csv`],
          {
            encoding: 'utf8',
          },
        );
        if (p.status !== 0) throw new Error(`psql failed: ${p.stderr}`);
        raw.push({ ms: performance.now() - t0, rssMb: null });
        for (const [strategy, list] of [
          ['copy', copy],
          ['jsonb', jsonb],
        ] as const) {
          await client.query('truncate events');
          await client.query('checkpoint');
          const r = await new Promise<{ ms: number; phases: Record<string, number>; rssKb: number }>(
            (resolve, reject) => {
              const child = spawn(
                process.execPath,
                [...nodeFlags, join(OUT, 'runner.mjs'), capsule, url, strategy],
                {
                  cwd: ROOT,
                  stdio: ['ignore', 'pipe', 'pipe'],
                },
              );
              let out = '';
              let err = '';
              child.stdout.on('data', (d) => {
                out += d;
              });
              child.stderr.on('data', (d) => {
                err += d;
              });
              child.on('close', (code) =>
                code === 0 ? resolve(JSON.parse(out)) : reject(new Error(err || `exit ${code}`)),
              );
            },
          );
          const { rows } = await client.query('select count(*)::int as n from events');
          if (rows[0].n !== size) throw new Error(`${strategy}: loaded ${rows[0].n} rows, expected ${size}`);
          list.push({ ms: r.ms, rssMb: r.rssKb / 1024, phases: r.phases });
        }
        process.stderr.write(
          `  run ${run + 1}: raw ${raw.at(-1)!.ms.toFixed(0)} ms, copy ${copy.at(-1)!.ms} ms, jsonb ${jsonb.at(-1)!.ms} ms\n`,
        );
      }
      results.push(
        { size, label: 'raw', runs: raw },
        { size, label: 'copy', runs: copy },
        { size, label: 'jsonb', runs: jsonb },
      );
    }
    await client.end();

    const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
    const lines: string[] = [
      '',
      `### materialize (${new Date().toISOString()})`,
      '',
      `Machine: ${os.cpus().length} vCPU (${cpu}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Node ${process.version}, PostgreSQL ${version} (embedded, fsync off), ${spawnSync('psql', ['--version'], { encoding: 'utf8' }).stdout.trim()}.`,
      `Table \`events\` (bigint pk, 2 text ids over 100 users, kind, timestamptz, small nested jsonb payload${FLOATS ? ' with a fractional number' : ''}, note), ~${Math.round(readFileSync(join(OUT, `events-${SIZES[0]}${FLOATS ? '-floats' : ''}.csv`)).length / SIZES[0]!)} bytes/row as CSV. Capsule in the exporter's one-row-per-line layout${INTEGRITY ? ', with an integrity record (content hashes recomputed after the load)' : ', without an integrity record (counts verified, no content hashing)'}; graph of 100 subjects; chunk size 1000; \`truncate\` + \`checkpoint\` before every run; medians of ${RUNS}.`,
      `Raw = wall time of \`psql -c "\\copy events (…) from file csv"\`. copy/jsonb = in-process duration of \`materializeCapsule\` (index pass, transaction, delete, load, sequences, verification, commit) in a child process (\`node ${nodeFlags.join(' ')}\`, the launcher's flags); RSS = its \`maxRSS\`.`,
      '',
      `Load average (1/5/15 min) before: ${loadBefore}; after: ${loadAverage()}. All runs (ms): ${results
        .map((r) => `${r.size / 1000}k ${r.label} ${r.runs.map((x) => Math.round(x.ms)).join('/')}`)
        .join('; ')}.`,
      '',
      '| rows | run | median | rows/s | ratio to raw | target | peak client RSS |',
      '| --- | --- | --- | --- | --- | --- | --- |',
    ];
    for (const size of SIZES) {
      const rawMs = median(results.find((r) => r.size === size && r.label === 'raw')!.runs.map((r) => r.ms));
      for (const label of ['raw', 'copy', 'jsonb']) {
        const runs = results.find((r) => r.size === size && r.label === label)!.runs;
        const ms = median(runs.map((r) => r.ms));
        const rss = runs.every((r) => r.rssMb === null)
          ? '—'
          : `${Math.max(...runs.map((r) => r.rssMb ?? 0)).toFixed(0)} MB`;
        const ratio = rawMs / ms;
        const target = label === 'copy' ? '≥ 0.8' : label === 'jsonb' ? '≥ 0.4' : '—';
        lines.push(
          `| ${size.toLocaleString('en-US')} | ${label} | ${(ms / 1000).toFixed(2)} s | ${Math.round((size * 1000) / ms).toLocaleString('en-US')} | ${label === 'raw' ? '1.00' : ratio.toFixed(2)} | ${target} | ${rss} |`,
        );
      }
    }
    const phaseLines: string[] = ['', 'Phases of the median copy/jsonb runs (ms):', ''];
    for (const r of results.filter((x) => x.label !== 'raw')) {
      const sorted = [...r.runs].sort((a, b) => a.ms - b.ms);
      const mid = sorted[Math.floor(sorted.length / 2)]!;
      phaseLines.push(
        `- ${r.size.toLocaleString('en-US')} ${r.label}: ${Object.entries(mid.phases ?? {})
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}`,
      );
    }
    const text = [...lines, ...phaseLines, ''].join('\n');
    process.stdout.write(text);
    if (NO_WRITE) return;
    const results_md = join(ROOT, 'bench', 'RESULTS.md');
    const existing = existsSync(results_md) ? readFileSync(results_md, 'utf8') : '# Benchmark results\n';
    if (!existing.includes('\n## materialize\n')) appendFileSync(results_md, '\n## materialize\n');
    appendFileSync(results_md, text);
  } finally {
    await server.stop();
  }
}

main().catch((err) => {
  process.stderr.write(`${err?.stack ?? err}\n`);
  process.exitCode = 1;
});
