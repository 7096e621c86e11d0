/**
 * Errors that carry the exit code the CLI reports.
 * 0 success, 1 a check or gate failed (or the operation itself failed), 2 bad input or usage.
 * Stages throw these; only the front doors turn them into exit codes and text.
 */
export interface ReplayErrorOptions {
  cause?: unknown;
  /** The flag, file field or input the error is about (e.g. "--subject", "tables[2].rowSql"). */
  field?: string;
}

export class ReplayError extends Error {
  readonly exitCode: 1 | 2;
  readonly field?: string;
  constructor(message: string, exitCode: 1 | 2 = 1, options?: ReplayErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ReplayError';
    this.exitCode = exitCode;
    if (options?.field !== undefined) this.field = options.field;
  }
}

/** Bad input: a missing or invalid file, a schema violation, a bad flag. Exit code 2. */
export class InputError extends ReplayError {
  constructor(message: string, options?: ReplayErrorOptions) {
    super(message, 2, options);
    this.name = 'InputError';
  }
}

/** A check, gate or operation failed. Exit code 1. */
export class FailureError extends ReplayError {
  constructor(message: string, options?: ReplayErrorOptions) {
    super(message, 1, options);
    this.name = 'FailureError';
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/**
 * The operation was cancelled (Ctrl-C / SIGTERM reached the CLI, which aborted the command's
 * AbortSignal) and has cleaned up: the message says what was left behind (nothing). The CLI exits
 * with 128 + the signal number (130 for SIGINT, 143 for SIGTERM).
 */
export class InterruptedError extends ReplayError {
  constructor(message: string, options?: ReplayErrorOptions) {
    super(message, 1, options);
    this.name = 'InterruptedError';
  }
}
