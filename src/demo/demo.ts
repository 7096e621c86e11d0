/**
 * `replay-env demo`: the whole loop on the embedded default, with nothing installed.
 *
 *   1. "production": an embedded PostgreSQL seeded from examples/socialapp (schema.sql, seed.sql)
 *   2. export one subject (acme/ada) with referential closure and the schema section
 *   3. "production" is stopped; a second embedded PostgreSQL starts empty
 *   4. run: materialize with --create-schema, start the example app, run its probes → trace
 *   5. judge the trace against the bundled golden (examples/socialapp/golden) → decision
 *
 * Every server and process is stopped before returning (also on failure). Stages never print:
 * progress goes to `onStep`.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FailureError } from '../errors.js';
import { judgeTrace } from '../gate/judge-trace.js';
import { loadPolicy } from '../gate/policy.js';
import type { Judgement } from '../judge/schema.js';
import { loadSetupGolden, resolveSetup } from '../judge/setup.js';
import { readTrace } from '../judge/trace-file.js';
import { loadManifest } from '../manifest/load.js';
import type { Manifest } from '../manifest/schema.js';
import { withClient } from '../postgres/connect.js';
import { type EmbeddedServer, freePort, startEmbeddedPostgres } from '../postgres/embedded.js';
import type { ClosureSection } from '../postgres/export/closure.js';
import { exportCapsule } from '../postgres/export/export-capsule.js';
import { zeroSetupHooks } from '../postgres/export/zero-setup.js';
import { type CreateSchemaReport, createSchemaHook } from '../postgres/materialize/zero-setup.js';
import { stopAllProcesses } from '../run/processes.js';
import { runReplay } from '../run/replay.js';
import type { Trace } from '../trace/schema.js';
import { writeFileAtomic } from '../util/atomic-file.js';

const DEMO_APP = 'socialapp';
const DEMO_SUBJECT = { tenant_id: 'acme', user_id: 'ada' } as const;
const DEMO_PORT = 4517;

/** The package root (src/demo or lib/demo → ../../), holding examples/ and config/. */
function packageRoot(): string {
  return fileURLToPath(new URL('../../', import.meta.url));
}

interface DemoPaths {
  root: string;
  example: string;
  manifest: string;
}

function demoPaths(root = packageRoot()): DemoPaths {
  const paths = {
    root,
    example: join(root, 'examples', DEMO_APP),
    manifest: join(root, 'config', 'apps', `${DEMO_APP}.json`),
  };
  for (const p of [join(paths.example, 'schema.sql'), join(paths.example, 'seed.sql'), paths.manifest])
    if (!existsSync(p))
      throw new FailureError(`the demo's example app is missing: ${p} not found (is the package complete?)`);
  return paths;
}

export interface DemoOptions {
  /** Where the capsule, trace and judgement go. */
  outDir: string;
  env: Record<string, string | undefined>;
  cwd: string;
  root?: string;
  onStep?: (step: DemoStep) => void;
  /** Keep the replay database running: called with its URL; the demo waits for the promise. */
  hold?: (replayUrl: string) => Promise<void>;
}

export interface DemoStep {
  step: 'production' | 'export' | 'replay-db' | 'run' | 'judge';
  ms: number;
  detail: string;
}

export interface DemoResult {
  app: string;
  subject: Record<string, string>;
  decision: Judgement['decision'];
  reasons: string[];
  capsule: { path: string; rows: Record<string, number>; closure: ClosureSection | null };
  tracePath: string;
  judgementPath: string;
  goldenPath: string;
  manifestPath: string;
  schema: CreateSchemaReport | null;
  runGate: Trace['gate'];
  timings: Record<DemoStep['step'] | 'total', number>;
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const srv = createServer();
    srv.once('error', () => res(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => res(true)));
  });
}

/**
 * The demo's manifest: the bundled one, with browser probes left out (the demo needs nothing
 * installed, and the bundled golden was blessed without them) and, when the app's port is taken,
 * another free port.
 */
async function demoManifest(manifest: Manifest): Promise<Manifest> {
  let m: Manifest = { ...manifest, probes: manifest.probes.filter((p) => p.kind !== 'browser') };
  if (!(await portFree(DEMO_PORT))) {
    const port = await freePort();
    const text = JSON.stringify(m).replaceAll(`127.0.0.1:${DEMO_PORT}`, `127.0.0.1:${port}`);
    m = JSON.parse(text) as Manifest;
    for (const c of m.commands) if (c.env?.PORT === String(DEMO_PORT)) c.env.PORT = String(port);
  }
  return m;
}

/** Reports each step with its duration (onStep) and keeps the timings for the result. */
function stepClock(onStep: DemoOptions['onStep']) {
  const timings = {} as DemoResult['timings'];
  /** Runs one step; `fn` returns its value and the line describing what it did. */
  const timed = async <T>(step: DemoStep['step'], fn: () => Promise<[T, string]>): Promise<T> => {
    const since = performance.now();
    const [value, detail] = await fn();
    const ms = Math.round(performance.now() - since);
    timings[step] = ms;
    onStep?.({ step, ms, detail });
    return value;
  };
  return { timings, timed };
}

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const t0 = performance.now();
  const paths = demoPaths(options.root);
  const { timings, timed } = stepClock(options.onStep);
  const manifest = await demoManifest(loadManifest(paths.manifest).manifest);
  const outDir = resolve(options.cwd, options.outDir);
  mkdirSync(outDir, { recursive: true });
  const capsulePath = join(outDir, `${DEMO_APP}-ada.capsule.json`);
  const tracePath = join(outDir, 'trace.json');
  const judgementPath = join(outDir, 'judgement.json');

  const servers: EmbeddedServer[] = [];
  try {
    const prod = await timed('production', () => seedProduction(paths, servers));
    const exported = await timed('export', () =>
      exportDemoCapsule(manifest, prod.url, capsulePath, options.env),
    );
    await prod.server.stop();
    const replayUrl = await timed('replay-db', () => startReplayDatabase(servers));
    const run = await timed('run', () =>
      replayDemo({ manifest, manifestPath: paths.manifest, capsulePath, replayUrl, tracePath, options }),
    );
    const judged = await timed('judge', () => judgeDemo(paths, tracePath, judgementPath, options.cwd));
    if (options.hold) await options.hold(replayUrl);
    timings.total = Math.round(performance.now() - t0);
    return {
      app: manifest.appId,
      subject: { ...DEMO_SUBJECT },
      decision: judged.judgement.decision,
      reasons: judged.judgement.reasons,
      capsule: { path: capsulePath, rows: exported.counts, closure: exported.closure },
      tracePath,
      judgementPath,
      goldenPath: judged.goldenPath,
      manifestPath: paths.manifest,
      schema: run.schema,
      runGate: run.trace.gate,
      timings,
    };
  } finally {
    await stopAllProcesses().catch(() => {});
    for (const s of servers.reverse()) await s.stop().catch(() => {});
  }
}

/** 1. "production": an embedded server seeded from the example's schema.sql and seed.sql. */
async function seedProduction(
  paths: DemoPaths,
  servers: EmbeddedServer[],
): Promise<[{ server: EmbeddedServer; url: string }, string]> {
  const server = await startEmbeddedPostgres();
  servers.push(server);
  const url = await server.createDatabase('production');
  await withClient(url, { role: 'demo production' }, async (c) => {
    await c.query(readFileSync(join(paths.example, 'schema.sql'), 'utf8'));
    await c.query(readFileSync(join(paths.example, 'seed.sql'), 'utf8'));
  });
  return [{ server, url }, `embedded PostgreSQL seeded from examples/${DEMO_APP}`];
}

/** 2. Export the demo subject with referential closure and the schema section. */
async function exportDemoCapsule(
  manifest: Manifest,
  prodUrl: string,
  capsulePath: string,
  env: Record<string, string | undefined>,
): Promise<[{ counts: Record<string, number>; closure: ClosureSection | null }, string]> {
  const hooks = zeroSetupHooks(manifest);
  const exported = await exportCapsule({
    manifest,
    subject: { ...DEMO_SUBJECT },
    databaseUrl: prodUrl,
    out: capsulePath,
    env,
    ...(hooks.extraRows ? { extraRows: hooks.extraRows } : {}),
    extraSections: hooks.extraSections,
  });
  const closure = hooks.closure();
  const total = Object.values(exported.counts).reduce((a, b) => a + b, 0);
  return [
    { counts: exported.counts, closure },
    `${total} rows in ${Object.keys(exported.counts).length} tables (${closure?.totalRows ?? 0} added by referential closure), schema carried`,
  ];
}

/** 3. A second, empty embedded server. */
async function startReplayDatabase(servers: EmbeddedServer[]): Promise<[string, string]> {
  const replay = await startEmbeddedPostgres();
  servers.push(replay);
  const replayUrl = await replay.createDatabase('replay');
  return [replayUrl, 'second embedded PostgreSQL, empty'];
}

/** 4. The run: materialize with --create-schema, start the app, run its probes → trace. */
async function replayDemo(input: {
  manifest: Manifest;
  manifestPath: string;
  capsulePath: string;
  replayUrl: string;
  tracePath: string;
  options: DemoOptions;
}): Promise<[{ trace: Trace; schema: CreateSchemaReport | null }, string]> {
  let schema: CreateSchemaReport | null = null;
  const { trace } = await runReplay({
    manifest: input.manifest,
    manifestPath: input.manifestPath,
    capsulePath: input.capsulePath,
    databaseUrl: input.replayUrl,
    prepareTarget: createSchemaHook({
      capsulePath: input.capsulePath,
      report: (r) => {
        schema = r;
      },
    }),
    traceOut: input.tracePath,
    env: input.options.env,
    cwd: input.options.cwd,
    scenario: undefined,
  });
  return [
    { trace, schema },
    `materialize ${trace.materialization.status} (--create-schema), ${trace.events.length} steps, run gate ${trace.gate.decision}`,
  ];
}

/** 5. Judge the trace against the bundled golden; the judgement is written next to the trace. */
async function judgeDemo(
  paths: DemoPaths,
  tracePath: string,
  judgementPath: string,
  cwd: string,
): Promise<[{ judgement: Judgement; goldenPath: string }, string]> {
  const read = readTrace(tracePath);
  const setup = resolveSetup({ cwd, app: paths.manifest }, read.trace);
  const judgement = judgeTrace({
    trace: read.trace,
    tracePath: read.path,
    traceSha256: read.sha256,
    golden: loadSetupGolden(setup),
    goldenPath: setup.goldenPath,
    policy: loadPolicy(setup.policyPath),
    manifest: setup.manifest,
    judges: setup.judges,
  });
  writeFileAtomic(
    judgementPath,
    `${JSON.stringify(judgement, null, 2)}
`,
    'judgement',
  );
  return [{ judgement, goldenPath: setup.goldenPath }, `${judgement.decision} (golden ${setup.goldenPath})`];
}
