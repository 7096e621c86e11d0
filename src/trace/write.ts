/** Writing a trace file atomically: a temp file in the same directory, then a rename. */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { stringifyExact } from '../util/exact-json.js';
import type { Trace } from './schema.js';

/** Trace JSON text: exact numbers, two-space indent, trailing newline. */
export function traceText(trace: Trace): string {
  return `${stringifyExact(trace, 2)}\n`;
}

export function writeTraceAtomic(path: string, trace: Trace): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  try {
    writeFileSync(tmp, traceText(trace));
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}
