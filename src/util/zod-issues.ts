/** Turning zod issues into one line each: `file: a.b[3].c: message`. */
import type { z } from 'zod';
import { InputError } from '../errors.js';

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
      // zod reports the input only with `reportInput`; without it, a present value of the wrong
      // type has input undefined too, so read the received type from zod's own message.
      const received = /received (\w+)/.exec(msg)?.[1];
      if (iss.input !== undefined)
        msg = `must be ${article(String(iss.expected))}, got ${describe(iss.input)}`;
      else if (received && received !== 'undefined')
        msg = `must be ${article(String(iss.expected))}, got ${article(received)}`;
      else msg = `is required (${iss.expected})`;
    }
    // A wrong literal or enum value: "Invalid input: expected "x"" → "must be "x"".
    if (iss.code === 'invalid_value') msg = msg.replace(/^Invalid (?:input|option): expected /, 'must be ');
    lines.push(`${formatPath(iss.path)}: ${msg}`);
  }
  return lines;
}

function article(type: string): string {
  return type === 'null' || type === 'undefined' ? type : `${/^[aeiou]/.test(type) ? 'an' : 'a'} ${type}`;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** `file: head:` and then one `  file: path: message` line per problem (bad input, exit 2). */
export function issuesError(path: string, head: string, lines: string[]): InputError {
  return new InputError(`${path}: ${head}:\n${lines.map((l) => `  ${path}: ${l}`).join('\n')}`);
}

/** `file: invalid <what>` (with the count when there are several problems) and the problems. */
export function invalidFile(path: string, what: string, lines: string[]): InputError {
  return issuesError(
    path,
    lines.length === 1 ? `invalid ${what}` : `invalid ${what} (${lines.length} problems)`,
    lines,
  );
}
