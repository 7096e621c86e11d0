/** Reading a trace for judging/blessing: the trace (see trace/read.ts), its absolute path and hash. */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { parseTrace } from '../trace/read.js';
import type { Trace } from '../trace/schema.js';
import { readTextFile } from '../util/json-file.js';

export interface LoadedTrace {
  trace: Trace;
  path: string;
  sha256: string;
}

export function readTrace(path: string): LoadedTrace {
  const text = readTextFile(path, 'trace');
  return {
    trace: parseTrace(text, path),
    path: resolve(path),
    sha256: createHash('sha256').update(text).digest('hex'),
  };
}
