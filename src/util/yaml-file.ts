/** Reading the loop's YAML files with errors that name the file (and line for syntax errors). */
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { InputError } from '../errors.js';
import { lineColumn, readTextFile } from './json-file.js';
import { reservedKeyProblems } from './reserved-keys.js';
import { invalidFile, issueLines } from './zod-issues.js';

export function readYamlFile(path: string, what: string): unknown {
  const text = readTextFile(path, what);
  const doc = parseDocument(text, { prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const { line, column } = lineColumn(text, e.pos[0]);
    const where = ` at line ${line}, column ${column}`;
    throw new InputError(`${path}: invalid YAML${where}: ${e.message.split('\n')[0]}`);
  }
  let value: unknown;
  try {
    // An alias bomb (a billion laughs) would expand to gigabytes: yaml refuses past this count.
    value = doc.toJS({ maxAliasCount: MAX_YAML_ALIASES });
  } catch (err) {
    throw new InputError(
      `${path}: invalid YAML: ${(err as Error).message} (at most ${MAX_YAML_ALIASES} alias expansions)`,
    );
  }
  const reserved = reservedKeyProblems(value);
  if (reserved.length > 0) throw invalidFile(path, what, reserved);
  return value;
}

/** Alias expansions allowed per document: the loop's files use none; a hand-written anchor a few. */
const MAX_YAML_ALIASES = 100;

/** Validates with zod; every problem on its own line as `file: path: message`. */
export function validateFile<T extends z.ZodType>(
  schema: T,
  raw: unknown,
  path: string,
  what: string,
): z.output<T> {
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  throw invalidFile(path, what, issueLines(result.error));
}
