/**
 * Reading a trace file: probe payloads (`events[].http.json`, `events[].sql.rows`) keep exact
 * numbers (LosslessNumber), every other number (counts, durations, ports) becomes a plain number,
 * then the result is validated against the trace schema.
 */
import { InputError } from '../errors.js';
import { parseExact, toPlain } from '../util/exact-json.js';
import { readTextFile } from '../util/json-file.js';
import { issueLines, issuesError } from '../util/zod-issues.js';
import { type Trace, traceSchema } from './schema.js';

/** Plain numbers everywhere except the recorded probe payloads. */
function normalize(raw: unknown): unknown {
  const plain = toPlain(raw) as { events?: unknown[] };
  const exact = raw as { events?: { http?: { json?: unknown }; sql?: { rows?: unknown } }[] };
  if (Array.isArray(plain.events) && Array.isArray(exact.events)) {
    plain.events.forEach((e, i) => {
      const src = exact.events![i];
      const dst = e as { http?: { json?: unknown }; sql?: { rows?: unknown } };
      if (src?.http && dst?.http && 'json' in src.http) dst.http.json = src.http.json;
      if (src?.sql && dst?.sql && 'rows' in src.sql) dst.sql.rows = src.sql.rows;
    });
  }
  return plain;
}

export function parseTrace(text: string, path = 'trace'): Trace {
  let raw: unknown;
  try {
    raw = parseExact(text);
  } catch (err) {
    throw new InputError(`${path}: not a valid trace: invalid JSON (${(err as Error).message})`);
  }
  const parsed = traceSchema.safeParse(normalize(raw));
  if (!parsed.success) {
    throw issuesError(path, 'not a valid trace', issueLines(parsed.error));
  }
  return parsed.data;
}

export function readTraceFile(path: string): Trace {
  return parseTrace(readTextFile(path, 'trace'), path);
}
