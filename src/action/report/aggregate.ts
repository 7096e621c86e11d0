/**
 * Merging several judgements (scenarios of one job, or the shards of a matrix) into one result:
 * the worst decision wins (block > warn > continue), with a table of scenarios followed by each
 * scenario's own report. Judgement files from other jobs are untrusted input: each is validated
 * against the judgement schema before anything from it is shown.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { InputError } from '../../errors.js';
import { type Annotation, type Judgement, judgementSchema } from '../../judge/schema.js';
import type { Decision } from '../../trace/schema.js';
import { issueLines } from '../../util/zod-issues.js';

const RANK: Record<Decision, number> = { continue: 0, warn: 1, block: 2 };
const ICON: Record<Decision, string> = { continue: '✅', warn: '⚠️', block: '⛔' };

export function worstDecision(decisions: Decision[]): Decision {
  return decisions.reduce<Decision>((w, d) => (RANK[d] > RANK[w] ? d : w), 'continue');
}

export interface Part {
  judgement: Judgement;
  markdown: string;
  checkName?: string;
  checkRunUrl?: string;
}

/** One cell of Markdown: no pipes or line breaks from the data. */
function cell(s: string): string {
  return s
    .replace(/\|/g, '\\|')
    .replace(/\s*\n\s*/g, ' ')
    .slice(0, 300);
}

export function aggregateMarkdown(title: string, parts: Part[]): string {
  const decision = worstDecision(parts.map((p) => p.judgement.decision));
  const counts = { block: 0, warn: 0, continue: 0 };
  for (const p of parts) counts[p.judgement.decision]++;
  const lines = [
    `## ${ICON[decision]} ${title}: ${decision}`,
    '',
    `${parts.length} scenario(s): ${counts.block} block, ${counts.warn} warn, ${counts.continue} continue.`,
    '',
    '| scenario | app | decision | first reason |',
    '| --- | --- | --- | --- |',
  ];
  for (const p of parts) {
    const j = p.judgement;
    const name = cell(j.scenario ?? '(default)');
    lines.push(
      `| ${p.checkRunUrl ? `[${name}](${p.checkRunUrl})` : name} | ${cell(j.app)} | ${ICON[j.decision]} ${j.decision} | ${cell(j.reasons[0] ?? '')} |`,
    );
  }
  for (const p of parts) {
    lines.push(
      '',
      '<details>',
      `<summary>${cell(p.judgement.scenario ?? p.judgement.app)}: ${p.judgement.decision}</summary>`,
      '',
    );
    lines.push(p.markdown, '', '</details>');
  }
  return lines.join('\n');
}

export function mergeAnnotations(parts: Part[]): Annotation[] {
  return parts.flatMap((p) =>
    p.judgement.annotations.map((a) => ({
      ...a,
      title: p.judgement.scenario ? `${p.judgement.scenario}: ${a.title ?? ''}`.replace(/: $/, '') : a.title,
    })),
  );
}

/** All *.judgement.json files under dir (downloaded shard artifacts), validated. */
export async function readJudgementsDir(dir: string): Promise<{ path: string; judgement: Judgement }[]> {
  let entries: string[];
  try {
    entries = (await readdir(dir, { recursive: true })).map(String);
  } catch (err) {
    throw new InputError(`input "judgements-dir": cannot read ${dir} (${(err as Error).message})`);
  }
  const files = entries.filter((e) => e.endsWith('.judgement.json')).sort();
  if (files.length === 0)
    throw new InputError(
      `input "judgements-dir": no *.judgement.json files under ${dir} (download the shard artifacts there first)`,
    );
  const out: { path: string; judgement: Judgement }[] = [];
  for (const f of files) {
    const path = join(dir, f);
    let data: unknown;
    try {
      data = JSON.parse(await readFile(path, 'utf8'));
    } catch (err) {
      throw new InputError(`${relative(process.cwd(), path)}: not JSON (${(err as Error).message})`);
    }
    const parsed = judgementSchema.safeParse(data);
    if (!parsed.success)
      throw new InputError(
        `${path}: not a replay-env judgement: ${issueLines(parsed.error).slice(0, 5).join('; ')}`,
      );
    out.push({ path, judgement: parsed.data });
  }
  return out;
}
