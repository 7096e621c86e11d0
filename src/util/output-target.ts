/**
 * An output path (`--out`, `--trace-out`, a golden) must be a new path or a regular file, and never
 * one of the command's own inputs: writing a capsule over its manifest, a judgement over its trace,
 * or renaming a temp file over /dev/null (as root, that replaces the device) loses data.
 * Files are compared by device and inode, so another spelling or a symlink of an input is caught.
 */
import { type Stats, statSync } from 'node:fs';
import { InputError } from '../errors.js';
import { fileKind } from './input-file-kind.js';

export interface NamedInput {
  /** What the input is ("manifest", "trace"…). */
  label: string;
  path: string | undefined;
}

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

/** Throws an InputError when `path` exists and is not a regular file, or is one of `inputs`. */
export function checkOutputTarget(path: string, label: string, inputs: readonly NamedInput[] = []): void {
  const st = statOrNull(path);
  if (!st) return;
  if (!st.isFile())
    throw new InputError(
      `${label} ${path}: refusing to write over ${fileKind(st)}; give the path of a regular file (or a new one)`,
    );
  for (const input of inputs) {
    const other = input.path ? statOrNull(input.path) : null;
    if (other && other.dev === st.dev && other.ino === st.ino)
      throw new InputError(
        `${label} ${path}: is the ${input.label} this command reads (${input.path}); refusing to overwrite an input — choose another output path`,
      );
  }
}
