/**
 * `scenario add`'s replay: the `run` command's path (cli/run.ts, cli/zero-setup.ts) for one
 * capsule and the new scenario — the replay database from --db-url or the manifest's variable
 * (checked: never a production-looking one), else a throwaway embedded PostgreSQL; materialize,
 * the app's commands and probes (run/replay.ts); the trace written under .replay/scenarios/<id>/.
 * Ctrl-C aborts `io.signal` (main.ts): the run stops every process it started, and nothing is
 * registered.
 */
import { join } from 'node:path';
import type { OpenOptions } from '../capsule/open.js';
import { InterruptedError } from '../errors.js';
import type { Manifest } from '../manifest/schema.js';
import { stopAllProcesses } from '../run/processes.js';
import { runReplay } from '../run/replay.js';
import type { Trace } from '../trace/schema.js';
import type { CliIO } from './context.js';
import { checkGivenReplayUrl } from './replay-url.js';
import { progressLine } from './run.js';
import { finishTarget, zeroSetupTarget } from './zero-setup.js';

export interface ScenarioReplayInput {
  manifest: Manifest;
  manifestPath: string;
  capsulePath: string;
  capsuleOpen: OpenOptions;
  scenarioId: string;
  rewrite?: Record<string, string>;
  dbUrl?: string;
  allowRemote?: boolean;
  createSchema?: boolean;
  replaceSchema?: boolean;
  /** Progress lines on stderr (off with --json). */
  quiet: boolean;
}

/** Where the new scenario's trace (and its screenshots) go, relative to the repository. */
export function scenarioRunDir(id: string): string {
  return join('.replay', 'scenarios', id);
}

/** Checks the replay target flags before anything runs (a production-looking URL is exit 2). */
export function checkReplayTarget(
  manifest: Manifest,
  flags: { dbUrl?: string; allowRemote?: boolean },
  io: CliIO,
) {
  checkGivenReplayUrl(manifest, flags, io, { doing: 'replay into' });
}

export async function replayScenario(
  io: CliIO,
  input: ScenarioReplayInput,
): Promise<{ trace: Trace; tracePath: string }> {
  const zs = await zeroSetupTarget(io, input.manifest, input.capsulePath, input, input.capsuleOpen);
  const traceOut = join(io.cwd, scenarioRunDir(input.scenarioId), `${input.scenarioId}.trace.json`);
  try {
    const { trace } = await runReplay({
      manifest: input.manifest,
      manifestPath: input.manifestPath,
      capsulePath: input.capsulePath,
      capsuleOpen: input.capsuleOpen,
      databaseUrl: zs.target.url,
      ...(zs.prepareTarget ? { prepareTarget: zs.prepareTarget } : {}),
      runSetup: zs.runSetup,
      ...(input.rewrite ? { rewrite: input.rewrite } : {}),
      traceOut,
      scenario: input.scenarioId,
      env: io.env,
      cwd: io.cwd,
      ...(io.signal ? { signal: io.signal } : {}),
      onEvent: input.quiet
        ? undefined
        : (p) => {
            const line = progressLine(p);
            if (line) io.stderr(`${line}\n`);
          },
    });
    if (io.signal?.aborted)
      throw new InterruptedError(
        `scenario add interrupted during the replay: every process it started is stopped; nothing was registered (the capsule stays where it was stored, the partial trace is ${traceOut})`,
      );
    return { trace, tracePath: traceOut };
  } finally {
    await stopAllProcesses();
    await finishTarget(io, zs, false);
  }
}
