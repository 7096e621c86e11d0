/**
 * With `--json` (or `--format json`), every outcome is one JSON document on stdout — a failure too,
 * so an agent never has to parse stderr. The shape is stable and published as
 * schema/cli-error.schema.json:
 *   { "error": { "code", "message", "field"? }, "exitCode" }
 * The text line still goes to stderr for people.
 */
import { CommanderError } from 'commander';
import { z } from 'zod';
import { InputError, InterruptedError, ReplayError } from '../errors.js';

export const cliErrorSchema = z.object({
  error: z.object({
    code: z
      .enum(['usage', 'bad_input', 'failed', 'interrupted', 'unexpected'])
      .describe(
        'usage: bad flags; bad_input: a file, field or value is wrong (fix it, do not retry); failed: the operation or a check failed; interrupted: Ctrl-C/SIGTERM; unexpected: a bug',
      ),
    message: z.string().describe('The same one-paragraph message as on stderr, naming the file and field.'),
    field: z.string().optional().describe('The flag or field the error is about, when known.'),
  }),
  exitCode: z.number().int().describe('The process exit code (1, 2, 130, 143).'),
});
export type CliErrorDocument = z.infer<typeof cliErrorSchema>;
type CliErrorCode = CliErrorDocument['error']['code'];

/** True when the arguments ask for machine output (`--json`, `--format json`, `--format=json`). */
export function wantsJson(args: readonly string[]): boolean {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') break;
    if (a === '--json' || a === '--format=json') return true;
    if (a === '--format' && args[i + 1] === 'json') return true;
  }
  return false;
}

export function errorDocument(err: unknown, exitCode: number, message: string): CliErrorDocument {
  const code: CliErrorCode =
    err instanceof InterruptedError
      ? 'interrupted'
      : err instanceof CommanderError
        ? 'usage'
        : err instanceof InputError
          ? 'bad_input'
          : err instanceof ReplayError
            ? exitCode === 2
              ? 'bad_input'
              : 'failed'
            : 'unexpected';
  const field = err instanceof ReplayError ? err.field : commanderField(err);
  return { error: { code, message, ...(field ? { field } : {}) }, exitCode };
}

/** Commander names the option in its message ("error: unknown option '--foo'"). */
function commanderField(err: unknown): string | undefined {
  if (!(err instanceof CommanderError)) return undefined;
  return /'(--?[A-Za-z0-9-]+)/.exec(err.message)?.[1];
}
