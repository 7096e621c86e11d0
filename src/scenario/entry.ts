/**
 * A new registry entry from what `scenario add` was given. It is checked before anything is
 * exported or run — with the registry's own schema (judge/loop.ts `scenarioSchema`), its problems
 * named by the flag that set the field — and written with the shipped entries' key order.
 */
import { InputError } from '../errors.js';
import { type Scenario, scenarioSchema } from '../judge/loop.js';
import { type Manifest, probeName } from '../manifest/schema.js';
import { validateFile } from '../util/yaml-file.js';
import { formatPath } from '../util/zod-issues.js';

export interface ScenarioDraft {
  id: string;
  title: string;
  risk: Scenario['risk'];
  bug?: string;
  /** Manifest probe names; default: every probe of the manifest. */
  probes?: string[];
  requiredFor: Scenario['requiredFor'];
  maxDurationSeconds: number;
  subjectRewrite?: Record<string, string>;
}

/** The capsule as the registry names it. */
export type CapsuleRef = { path: string; sha256?: string } | { artifact: string };

/** Which flag sets each field (for error messages). */
const FLAG: Record<string, string> = {
  id: '<id>',
  title: '--title',
  risk: '--risk',
  bug: '--bug',
  probes: '--probe',
  maxDurationSeconds: '--max-duration',
  requiredFor: '--required-for',
  subjectRewrite: '--rewrite-subject',
  capsule: '--artifact',
  golden: '--golden',
};

/** The entry, keys in the order of the shipped registry's entries. */
export function scenarioEntry(
  draft: ScenarioDraft,
  probes: string[],
  capsule: CapsuleRef,
  golden: string,
): Record<string, unknown> {
  return {
    id: draft.id,
    title: draft.title,
    risk: draft.risk,
    ...(draft.bug !== undefined ? { bug: draft.bug } : {}),
    capsule: 'artifact' in capsule ? { artifact: capsule.artifact } : { path: capsule.path },
    ...('sha256' in capsule && capsule.sha256 ? { capsuleSha256: capsule.sha256 } : {}),
    ...(draft.subjectRewrite ? { subjectRewrite: draft.subjectRewrite } : {}),
    probes,
    golden,
    maxDurationSeconds: draft.maxDurationSeconds,
    requiredFor: draft.requiredFor,
  };
}

/** The probes the scenario needs: the ones named (each must be the manifest's), else all of them. */
export function scenarioProbes(draft: ScenarioDraft, manifest: Manifest, manifestPath: string): string[] {
  const known = manifest.probes.map((p, i) => probeName(p, i));
  if (!draft.probes?.length) return known;
  const unknown = draft.probes.filter((p) => !known.includes(p));
  if (unknown.length)
    throw new InputError(
      `--probe ${unknown.map((p) => JSON.stringify(p)).join(', ')}: not a probe of ${manifestPath} (its probes: ${known.join(', ') || 'none'})`,
      { field: '--probe' },
    );
  return [...new Set(draft.probes)];
}

/**
 * Checks the draft with the registry's schema before anything runs (a placeholder capsule and
 * golden stand in for the ones decided later): every problem, named by its flag, exit 2.
 */
export function checkDraft(draft: ScenarioDraft, probes: string[]): void {
  const trial = scenarioEntry(draft, probes, { path: 'capsules/placeholder.json' }, 'golden.json');
  const result = scenarioSchema.safeParse(trial);
  if (result.success) return;
  const lines = result.error.issues.map((issue) => {
    const [head, ...rest] = issue.path;
    const flag = FLAG[String(head)] ?? String(head);
    return `${flag}${rest.length ? ` ${formatPath(rest)}` : ''}: ${issue.message}`;
  });
  throw new InputError(`the new scenario is invalid: ${lines.join('; ')}`, {
    field: FLAG[String(result.error.issues[0]?.path[0])] ?? 'scenario',
  });
}

/** The entry as the registry's loader will read it (defaults applied); a problem is exit 2. */
export function parseEntry(entry: Record<string, unknown>, registryPath: string): Scenario {
  return validateFile(scenarioSchema, entry, `${registryPath} (new scenario)`, 'scenario');
}
