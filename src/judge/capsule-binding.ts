/**
 * Which capsule a golden judged, and whether a trace replayed the same one.
 *
 * A golden names its capsule (`provenance.capsule`: file sha256, content sha256, subject
 * fingerprint, export time). Comparing a trace with a golden blessed on another capsule — another
 * customer, or the same customer re-exported after production changed — reports every data change
 * as an app regression. So the judge first asks "same capsule?":
 *
 *   - both sides carry the capsule's content hash (integrity.contentSha256: subject, graph and
 *     every table's rows): same data ⇔ same content hash (a re-export of unchanged data is the same)
 *   - else: the capsule files' sha256
 *
 * A golden blessed before goldens named their capsule (only provenance.capsuleSha256) is not
 * refused: a differing sha is a note, since such goldens were often blessed on a fresh export.
 */
import { createHash } from 'node:crypto';
import type { Trace } from '../trace/schema.js';
import type { Golden } from './golden.js';

export interface CapsuleIdentity {
  sha256: string;
  /** The capsule's integrity.contentSha256 (absent for capsules without integrity). */
  contentSha256?: string;
  /** sha256 (16 hex) of the subject's sorted key/value JSON: "same customer?" without naming it. */
  subjectFingerprint: string;
  exportedAt?: string;
}

function subjectFingerprint(subject: Record<string, string>): string {
  const sorted = Object.keys(subject)
    .sort()
    .map((k) => [k, subject[k]]);
  return createHash('sha256').update(JSON.stringify(sorted)).digest('hex').slice(0, 16);
}

export function capsuleIdentity(trace: Trace): CapsuleIdentity | null {
  const c = trace.capsule;
  if (!c) return null;
  return {
    sha256: c.sha256,
    ...(c.contentSha256 ? { contentSha256: c.contentSha256 } : {}),
    subjectFingerprint: subjectFingerprint(c.subject),
    ...(c.exportedAt ? { exportedAt: c.exportedAt } : {}),
  };
}

export const short = (sha: string) => sha.slice(0, 12);

function describe(id: CapsuleIdentity): string {
  return `${short(id.sha256)}${id.exportedAt ? ` (exported ${id.exportedAt})` : ''}`;
}

export type CapsuleComparison =
  | { kind: 'same' }
  /** Legacy golden or no capsule on one side: compared, with an optional note. */
  | { kind: 'unbound'; note?: string }
  | { kind: 'differs'; summary: string; evidence: string[] };

/** Whether two capsule identities hold the same data (see the module comment). */
export function sameCapsule(a: CapsuleIdentity, b: CapsuleIdentity): boolean {
  if (a.contentSha256 && b.contentSha256)
    return a.contentSha256 === b.contentSha256 && a.subjectFingerprint === b.subjectFingerprint;
  return a.sha256 === b.sha256;
}

/** The golden's capsule against the trace's: what golden-match says before comparing anything. */
export function compareCapsuleWithGolden(
  golden: Golden,
  trace: Trace,
  rebless: string,
  label = 'golden',
): CapsuleComparison {
  const actual = capsuleIdentity(trace);
  const bound = golden.provenance.capsule;
  if (!bound) {
    const legacy = golden.provenance.capsuleSha256;
    if (legacy && actual && legacy !== actual.sha256)
      return {
        kind: 'unbound',
        note: `note: the golden was blessed on capsule ${short(legacy)}, this trace replayed ${short(actual.sha256)} (the golden predates capsule binding: re-bless to bind it)`,
      };
    return { kind: 'unbound' };
  }
  if (!actual)
    return { kind: 'unbound', note: 'note: the trace carries no capsule to check against the golden' };
  if (sameCapsule(bound, actual)) return { kind: 'same' };
  const who =
    bound.subjectFingerprint === actual.subjectFingerprint
      ? 'the same subject, re-exported with different data'
      : 'a different subject';
  return {
    kind: 'differs',
    summary:
      label === 'golden'
        ? `capsule differs from the golden's (${who}): not compared; re-bless after re-export with \`${rebless}\``
        : `capsule differs from the ${label}'s (${who}): not compared; replay both sides on the same capsule`,
    evidence: [
      `${label} capsule ${describe(bound)}; trace capsule ${describe(actual)}: ${who}`,
      `the golden judges the app on the data it was blessed with; comparing another capsule's results would report every data change as an app regression`,
    ],
  };
}

/** The scenario's pinned capsule against the trace's (null when nothing is pinned or it matches). */
export function scenarioPinProblem(
  pin: string | undefined,
  scenarioId: string | undefined,
  trace: Trace,
): string | null {
  if (!pin) return null;
  const actual = trace.capsule?.sha256;
  if (actual === pin) return null;
  return `scenario ${scenarioId} pins capsule ${short(pin)}, but the trace replayed ${actual ? short(actual) : 'no capsule'}`;
}
