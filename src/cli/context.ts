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
  /**
   * Asks a yes/no question on the terminal; absent when nobody can answer (stdin or stderr not a
   * terminal, or CI=true), so a command that needs a confirmation must then not proceed.
   */
  confirm?: (question: string) => Promise<boolean>;
}

export function processIO(): CliIO {
  const interactive =
    Boolean(process.stderr.isTTY) && Boolean(process.stdin.isTTY) && process.env.CI !== 'true';
  return {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    env: process.env,
    cwd: process.cwd(),
    isTTY: Boolean(process.stderr.isTTY) && process.env.CI !== 'true',
    ...(interactive ? { confirm: askOnTerminal } : {}),
  };
}

/** `question [y/N]` on stderr, the answer from stdin: yes only for y / yes. */
async function askOnTerminal(question: string): Promise<boolean> {
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

/** Print JSON for machines: one document, newline-terminated. */
export function printJson(io: CliIO, value: unknown): void {
  io.stdout(`${JSON.stringify(value, null, 2)}\n`);
}
