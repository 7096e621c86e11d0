/**
 * The subject rewrite a front door asks for: `--use-local-subject` (the manifest's localSubject)
 * first, then each `--rewrite-subject key=value` on top (the Action's `use-local-subject` and
 * `rewrite-subject` inputs alike). One rule for the CLI's `run` and `materialize-postgres` and the
 * Action: every key must be one of the manifest's subjectKeys, and asking for the localSubject of a
 * manifest that has none is bad input (exit 2). The rewrite itself is capsule/rewrite.ts.
 */
import { InputError } from '../errors.js';
import type { Manifest } from './schema.js';

export interface RewriteRequest {
  useLocalSubject?: boolean;
  rewriteSubject?: readonly (readonly [string, string])[];
}

/** How the caller names the two options in its errors. */
export interface RewriteOptionNames {
  useLocalSubject: string;
  rewriteSubject: string;
}

const CLI_REWRITE_OPTIONS: RewriteOptionNames = {
  useLocalSubject: '--use-local-subject',
  rewriteSubject: '--rewrite-subject',
};

export interface RequestedRewrite {
  /** The new value per subject key. */
  values: Record<string, string>;
  /** Where the values came from (`localSubject + --rewrite-subject`), for later errors. */
  source: string;
}

/** The rewrite asked for, or undefined when none was. */
export function requestedRewrite(
  manifest: Manifest,
  manifestPath: string,
  request: RewriteRequest,
  names: RewriteOptionNames = CLI_REWRITE_OPTIONS,
): RequestedRewrite | undefined {
  const values: Record<string, string> = {};
  const sources: string[] = [];
  if (request.useLocalSubject) {
    if (!manifest.localSubject || Object.keys(manifest.localSubject).length === 0)
      throw new InputError(`${names.useLocalSubject}: the manifest ${manifestPath} has no localSubject`);
    Object.assign(values, manifest.localSubject);
    sources.push('localSubject');
  }
  for (const [k, v] of request.rewriteSubject ?? []) {
    if (!manifest.subjectKeys.includes(k))
      throw new InputError(
        `${names.rewriteSubject}: ${JSON.stringify(k)} is not a subject key of ${manifestPath} (subject keys: ${manifest.subjectKeys.join(', ')})`,
      );
    values[k] = v;
  }
  if (request.rewriteSubject?.length) sources.push(names.rewriteSubject);
  return sources.length > 0 ? { values, source: sources.join(' + ') } : undefined;
}
