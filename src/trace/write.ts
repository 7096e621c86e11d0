/** Writing a trace file atomically: a temp file in the same directory, then a rename. */
import { writeFileAtomic } from '../util/atomic-file.js';
import { stringifyExact } from '../util/exact-json.js';
import type { Trace } from './schema.js';

/** Trace JSON text: exact numbers, two-space indent, trailing newline. */
export function traceText(trace: Trace): string {
  return `${stringifyExact(trace, 2)}\n`;
}

/** Atomic (util/atomic-file.ts): a failed or killed write leaves no half-written trace at `path`. */
export function writeTraceAtomic(path: string, trace: Trace): void {
  writeFileAtomic(path, traceText(trace), 'trace');
}
