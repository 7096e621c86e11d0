/** What a CLI command may touch: its output streams and the environment, passed in explicitly. */
export interface CliIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** True when stderr is an interactive terminal (progress lines may be redrawn). */
  isTTY: boolean;
  /**
   * Aborted when the user interrupts the command (SIGINT/SIGTERM, see main.ts); the reason is the
   * signal's name. Commands that honour it clean up and throw an InterruptedError.
   */
  signal?: AbortSignal;
}

export function processIO(): CliIO {
  return {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    env: process.env,
    cwd: process.cwd(),
    isTTY: Boolean(process.stderr.isTTY) && process.env.CI !== 'true',
  };
}

/** Print JSON for machines: one document, newline-terminated. */
export function printJson(io: CliIO, value: unknown): void {
  io.stdout(`${JSON.stringify(value, null, 2)}\n`);
}
