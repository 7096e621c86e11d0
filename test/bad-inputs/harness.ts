/**
 * The bad-input corpus harness: every case runs one command on one malformed input and must fail
 * closed — the exit code, an error that names the file and the problem, no stack trace, no output
 * file (nor a temp file beside it), and for database-writing commands an unchanged target.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import type { CliResult } from '../helpers/cli.js';

export const FIXTURES = fileURLToPath(new URL('../fixtures/bad-inputs/', import.meta.url));
export const fixture = (name: string) => join(FIXTURES, name);

/** A fresh, empty directory for one case's outputs (and its TMPDIR). */
export function caseDir(root: string, id: string): string {
  const dir = join(root, id);
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  return dir;
}

export function corpusRoot(): string {
  return mkdtempSync(join(tmpdir(), 'bad-inputs-'));
}

export interface FailureExpectation {
  /** Exit code (2: bad input). */
  code: number;
  /** The file the message must name (as given on the command line). */
  file: string;
  /** The problem, specific to the case. */
  problem: RegExp;
  /** Files that must not exist afterwards. */
  outputs?: string[];
  /** Directories that must be empty afterwards (no temp files left). */
  emptyDirs?: string[];
  /** Directories that must hold no file, at any depth (empty subdirectories are allowed). */
  noFilesUnder?: string[];
  /** Where the message is: stderr (errors), or stdout for a report such as doctor's. */
  stream?: 'stderr' | 'stdout';
}

/** Lines Node prints for an uncaught error: `    at fn (file:1:2)` and `TypeError: …`. */
const STACK_LINE = /^\s+at /m;
const NODE_ERROR_PREFIX = /^(?:[A-Za-z]*Error|Error)(?: \[[A-Z_]+\])?:/m;

export function expectCleanFailure(r: CliResult, e: FailureExpectation): void {
  const all = `${r.stdout}\n${r.stderr}`;
  const context = `exit ${r.code}\nstderr: ${r.stderr}\nstdout: ${r.stdout.slice(0, 2000)}`;
  expect(r.code, context).toBe(e.code);
  const text = e.stream === 'stdout' ? r.stdout : r.stderr;
  expect(text, context).toContain(e.file);
  expect(text, context).toMatch(e.problem);
  expect(all, context).not.toMatch(STACK_LINE);
  expect(all, context).not.toMatch(NODE_ERROR_PREFIX);
  expect(r.stderr, context).not.toContain('unexpected error');
  for (const f of e.outputs ?? []) expect(existsSync(f), `${f} must not exist\n${context}`).toBe(false);
  for (const d of e.emptyDirs ?? []) {
    // tsx (child-process cases) keeps its compile cache in TMPDIR: not ours.
    const left = existsSync(d) ? readdirSync(d).filter((f) => !f.startsWith('tsx-')) : [];
    expect(left, `${d} must be empty\n${context}`).toEqual([]);
  }
  for (const d of e.noFilesUnder ?? [])
    expect(filesUnder(d), `${d} must hold no file\n${context}`).toEqual([]);
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => !d.isDirectory())
    .map((d) => join(d.parentPath, d.name));
}

/** Runs `fn` with TMPDIR pointing at `dir` (os.tmpdir() reads it on every call). */
export async function withTmpdir<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const before = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  try {
    return await fn();
  } finally {
    if (before === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = before;
  }
}
