/**
 * Materialization integrity: the load succeeded and the database holds exactly the capsule's
 * rows (counts, and content hashes when the capsule carried them).
 */
import { clip, disabled, type JudgeInput, titleOf } from './context.js';
import type { JudgeResult } from './schema.js';

export interface CountCheck {
  mismatches: string[];
  unverified: string[];
}

export function checkCounts(input: JudgeInput): CountCheck {
  const { materialization: m, capsule } = input.trace;
  const mismatches: string[] = [];
  const unverified: string[] = [];
  const seen = new Set<string>();
  for (const c of m.counts) {
    seen.add(c.table);
    if (c.database === null) unverified.push(`${c.table}: database count not recorded`);
    else if (c.database !== c.capsule)
      mismatches.push(`${c.table}: capsule ${c.capsule} rows, database ${c.database}`);
    if (c.hashMatch === false) mismatches.push(`${c.table}: content hash differs from the capsule's`);
    const declared = capsule?.tables[c.table];
    if (declared !== undefined && declared !== c.capsule)
      mismatches.push(`${c.table}: the capsule declares ${declared} rows but ${c.capsule} were loaded`);
  }
  for (const [table, rows] of Object.entries(capsule?.tables ?? {}))
    if (!seen.has(table) && rows > 0) unverified.push(`${table}: ${rows} capsule rows, no database count`);
  return { mismatches, unverified };
}

export function judgeMaterializationIntegrity(input: JudgeInput): JudgeResult {
  const id = 'materialization-integrity';
  const off = disabled(input, id);
  if (off) return off;
  const title = titleOf(input, id);
  const m = input.trace.materialization;
  const evidence: string[] = [`status: ${m.status}${m.strategy ? ` (${m.strategy})` : ''}`];
  if (m.durationMs !== undefined) evidence.push(`duration: ${Math.round(m.durationMs)} ms`);
  if (m.status === 'skipped')
    return { id, title, verdict: 'skip', summary: 'materialization was skipped in this run', evidence };
  if (m.status === 'failed') {
    if (m.error) evidence.push(`error: ${clip(m.error, 300)}`);
    if (m.migration)
      evidence.push(
        `migration ${clip(m.migration.command, 80)} exited ${m.migration.exitCode ?? 'by signal'}`,
      );
    return { id, title, verdict: 'fail', summary: 'the capsule did not load', evidence };
  }
  const { mismatches, unverified } = checkCounts(input);
  const tables = m.counts.length;
  const rows = m.counts.reduce((n, c) => n + c.capsule, 0);
  evidence.push(`${tables} table(s), ${rows} capsule row(s) checked against the database`);
  const hashed = m.counts.filter((c) => c.hashMatch === true).length;
  if (hashed) evidence.push(`${hashed} table content hash(es) match`);
  if (mismatches.length)
    return {
      id,
      title,
      verdict: 'fail',
      summary: `database contradicts the capsule in ${mismatches.length} place(s)`,
      evidence: [...evidence, ...mismatches],
    };
  if (unverified.length || tables === 0)
    return {
      id,
      title,
      verdict: 'warn',
      summary:
        tables === 0
          ? 'loaded, but no counts were recorded'
          : 'loaded, but some counts could not be verified',
      evidence: [...evidence, ...unverified],
    };
  return {
    id,
    title,
    verdict: 'pass',
    summary: `loaded; ${tables} table count(s) match the capsule`,
    evidence,
  };
}
