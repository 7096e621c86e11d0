/**
 * Capsule integrity: subject, graph and tables present, at least one row; a sparse graph (no
 * related users) or empty interaction tables only warn.
 */
import type { Trace } from '../trace/schema.js';
import { disabled, type JudgeInput, titleOf } from './context.js';
import type { Scenario } from './loop.js';
import type { JudgeResult } from './schema.js';

export interface CapsuleAnalysis {
  missing: boolean;
  subjectMissing: boolean;
  graphMissing: boolean;
  relatedUsers: number;
  totalRows: number;
  emptyTables: string[];
  /** Interaction tables the scenario expects that are absent or empty. */
  interactionEmpty: string[];
}

function isSubjectEntry(
  entry: { key: Record<string, string | null>; reasons: string[] },
  subject: Record<string, string>,
) {
  if (entry.reasons.includes('subject')) return true;
  const keys = Object.keys(subject);
  return keys.length > 0 && keys.every((k) => entry.key[k] === subject[k]);
}

export function analyseCapsule(trace: Trace, scenario?: Scenario): CapsuleAnalysis {
  const c = trace.capsule;
  if (!c)
    return {
      missing: true,
      subjectMissing: true,
      graphMissing: true,
      relatedUsers: 0,
      totalRows: 0,
      emptyTables: [],
      interactionEmpty: [],
    };
  const tables = Object.entries(c.tables);
  const totalRows = tables.reduce((n, [, count]) => n + count, 0);
  const subjectEntries = c.graph.filter((e) => isSubjectEntry(e, c.subject));
  const emptyTables = tables
    .filter(([, count]) => count === 0)
    .map(([t]) => t)
    .sort();
  const interactionEmpty = scenario?.interactionTables
    ? scenario.interactionTables.filter((t) => !c.tables[t])
    : emptyTables;
  return {
    missing: false,
    subjectMissing: Object.keys(c.subject).length === 0 || subjectEntries.length === 0 || totalRows === 0,
    graphMissing: c.graph.length === 0 || tables.length === 0,
    relatedUsers: c.graph.length - subjectEntries.length,
    totalRows,
    emptyTables,
    interactionEmpty,
  };
}

export function judgeCapsuleIntegrity(input: JudgeInput): JudgeResult {
  const id = 'capsule-integrity';
  const off = disabled(input, id);
  if (off) return off;
  const title = titleOf(input, id);
  const c = input.trace.capsule;
  const a = analyseCapsule(input.trace, input.scenario);
  if (!c) return { id, title, verdict: 'fail', summary: 'the trace carries no capsule', evidence: [] };
  // The subject's values identify a customer: evidence is public (PR comment, check run), so it
  // names the keys only; the values are in the trace.
  const subject = Object.keys(c.subject)
    .map((k) => `${k}=…`)
    .join(', ');
  const reasons = new Map<string, number>();
  for (const e of c.graph) for (const r of e.reasons) reasons.set(r, (reasons.get(r) ?? 0) + 1);
  const evidence = [
    `capsule ${c.path} (sha256 ${c.sha256.slice(0, 12)}…, redaction ${c.redaction})`,
    `subject: ${subject || '(none)'}`,
    `graph: ${c.graph.length} subject(s), ${a.relatedUsers} related; reasons: ${
      [...reasons].map(([r, n]) => `${r} ×${n}`).join(', ') || 'none'
    }`,
    `tables: ${Object.keys(c.tables).length}, rows: ${a.totalRows}${
      a.emptyTables.length ? `; empty: ${a.emptyTables.join(', ')}` : ''
    }`,
  ];
  const problems: string[] = [];
  if (Object.keys(c.subject).length === 0) problems.push('the capsule names no subject');
  else if (!c.graph.some((e) => isSubjectEntry(e, c.subject)))
    problems.push('the subject is not in the graph');
  if (c.graph.length === 0) problems.push('the graph is empty');
  if (Object.keys(c.tables).length === 0) problems.push('the capsule has no tables');
  else if (a.totalRows === 0) problems.push('the capsule has no rows');
  if (problems.length) return { id, title, verdict: 'fail', summary: problems.join('; '), evidence };
  const warnings: string[] = [];
  if (a.relatedUsers === 0) warnings.push('the graph is sparse: no related users');
  if (a.interactionEmpty.length)
    warnings.push(
      `${input.scenario?.interactionTables ? 'expected interaction tables' : 'tables'} empty: ${a.interactionEmpty.join(', ')}`,
    );
  if (warnings.length) return { id, title, verdict: 'warn', summary: warnings.join('; '), evidence };
  return {
    id,
    title,
    verdict: 'pass',
    summary: `subject present, ${c.graph.length} graph subjects, ${a.totalRows} rows`,
    evidence,
  };
}
