/** Turning zod issues into one line each: `file: a.b[3].c: message`. */
import type { z } from 'zod';

export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (typeof p === 'string' && /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(p)) out += out ? `.${p}` : p;
    else out += `[${JSON.stringify(String(p))}]`;
  }
  return out || '(top level)';
}

export function issueLines(error: z.ZodError): string[] {
  const lines: string[] = [];
  for (const iss of error.issues) {
    // Union issues: report the branch errors, which name the real field.
    if (
      iss.code === 'invalid_union' &&
      'errors' in iss &&
      Array.isArray(iss.errors) &&
      iss.errors.length === 1
    ) {
      for (const sub of iss.errors[0] as z.core.$ZodIssue[])
        lines.push(`${formatPath([...iss.path, ...sub.path])}: ${sub.message}`);
      continue;
    }
    let msg = iss.message;
    if (iss.code === 'invalid_type' && /^Invalid input/.test(msg)) {
      msg =
        iss.input === undefined
          ? `is required (${iss.expected})`
          : `must be ${iss.expected}, got ${describe(iss.input)}`;
    }
    lines.push(`${formatPath(iss.path)}: ${msg}`);
  }
  return lines;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${JSON.stringify(v)}`;
}
