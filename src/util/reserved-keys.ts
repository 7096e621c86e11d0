/**
 * `__proto__` as a key of a configuration document (manifest, policy, loop files) is never
 * meaningful and is a classic prototype-pollution vector: JSON.parse keeps it as an own key, but
 * any code that copies the object with `{...x}` or `obj[k] = v` would set the prototype instead.
 * Such documents are refused with the path of the key.
 */
import { formatPath } from './zod-issues.js';

const RESERVED_KEY = '__proto__';

/** Paths (as `a.b[0].c`) of every `__proto__` key in a parsed JSON/YAML value. */
function reservedKeyPaths(value: unknown, path: PropertyKey[] = [], out: string[] = []): string[] {
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) reservedKeyPaths(v, [...path, i], out);
  } else if (value !== null && typeof value === 'object') {
    for (const k of Object.keys(value)) {
      if (k === RESERVED_KEY) out.push(formatPath([...path, k]));
      else reservedKeyPaths((value as Record<string, unknown>)[k], [...path, k], out);
    }
  }
  return out;
}

/** Problem lines for a document's `__proto__` keys (empty when there are none). */
export function reservedKeyProblems(value: unknown): string[] {
  return reservedKeyPaths(value).map((p) => `${p}: the key "${RESERVED_KEY}" is not allowed`);
}
