/**
 * Secrets never reach the trace. Every string the trace records (output tails, bodies, headers,
 * rows, console messages, error texts) goes through here: the values of the env vars the manifest
 * lists in `secrets.env` are replaced, and so is anything the secret scanner recognises
 * (tokens, keys, passwords in URLs, `password=…` assignments). In recorded JSON bodies and rows, a
 * non-empty string under a secret-looking field name (`token`, `password`, …) is masked as well.
 */
import { isSecretFieldName, maskSecrets } from '../redaction/secret-scanner.js';
import { isLosslessNumber } from '../util/exact-json.js';

export type Masker = (text: string) => string;

/** The values to mask: those of the named env vars that are set (in the base env or a command's env). */
export function secretValues(
  names: readonly string[],
  ...envs: Record<string, string | undefined>[]
): string[] {
  const out = new Set<string>();
  for (const name of names)
    for (const env of envs) {
      const v = env[name];
      if (v) out.add(v);
    }
  return [...out];
}

export function buildMasker(secrets: readonly string[]): Masker {
  const list = [...secrets];
  return (text) => maskSecrets(text, list);
}

/** A copy of `value` with every string masked; `byFieldName` also masks secret-named fields. */
export function maskDeep<T>(value: T, mask: Masker, byFieldName = false): T {
  const walk = (v: unknown, key: string | null): unknown => {
    if (typeof v === 'string') {
      if (byFieldName && key !== null && v !== '' && isSecretFieldName(key)) return '***';
      return mask(v);
    }
    if (v === null || typeof v !== 'object' || isLosslessNumber(v)) return v;
    if (Array.isArray(v)) return v.map((x) => walk(x, key));
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = walk(x, k);
    return out;
  };
  return walk(value, null) as T;
}
