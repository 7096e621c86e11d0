/**
 * The subject graph materialize loads into its temp graph table: one entry per graph subject with
 * the manifest's subject keys, rewritten when a subject rewrite was asked for. Shared by the load
 * (phases/capsule-source.ts) and `--explain` (plan.ts).
 */
import { planSubjectRewrite, type SubjectRewrite, SubjectRewriter } from '../../capsule/rewrite.js';
import type { CapsuleHeader } from '../../capsule/schema.js';
import type { Manifest } from '../../manifest/schema.js';

export function subjectGraph(
  manifest: Manifest,
  header: CapsuleHeader,
  options: { rewrite?: Record<string, string>; rewriteSource?: string },
): { rewrite: SubjectRewrite | null; graph: Record<string, unknown>[] } {
  const keys = manifest.subjectKeys;
  const rewrite = options.rewrite
    ? planSubjectRewrite(keys, header.subject, options.rewrite, options.rewriteSource)
    : null;
  // Its own rewriter: the caller's rewriter counts the table values it replaces, not these.
  const rewriter = rewrite ? new SubjectRewriter(rewrite) : null;
  const graph = header.graph.map((g) => {
    const entry: Record<string, unknown> = {};
    for (const k of keys) entry[k] = g[k] ?? null;
    return rewriter ? rewriter.rewriteObject(entry) : entry;
  });
  return { rewrite, graph };
}
