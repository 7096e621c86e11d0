/**
 * One check run per app/scenario. Created completed with its conclusion, title and summary and the
 * first 50 annotations; the rest follow in further PATCH updates of 50 each (the Checks API takes
 * at most 50 annotations per request and appends them across updates).
 */
import type { Annotation, Judgement } from '../../judge/schema.js';
import type { Decision } from '../../trace/schema.js';
import type { Octokit } from '../github.js';
import { GITHUB_TEXT_LIMIT, truncateMarkdown } from './truncate.js';

export const ANNOTATIONS_PER_REQUEST = 50;

export const CONCLUSION: Record<Decision, 'failure' | 'neutral' | 'success'> = {
  block: 'failure',
  warn: 'neutral',
  continue: 'success',
};

export interface CheckRunRequest {
  owner: string;
  repo: string;
  headSha: string;
  name: string;
  decision: Decision;
  title: string;
  /** The judgement Markdown; truncated here if needed. */
  summary: string;
  annotations: Annotation[];
  detailsUrl?: string;
  externalId?: string;
}

export interface CheckRunResult {
  id: number;
  url?: string;
  annotationRequests: number;
}

export function checkRunTitle(j: Pick<Judgement, 'decision' | 'reasons'>): string {
  const head = { block: 'Blocked', warn: 'Warning', continue: 'Continue' }[j.decision];
  const first = j.reasons[0];
  const title = first ? `${head}: ${first}` : head;
  return title.length > 200 ? `${title.slice(0, 197)}…` : title;
}

type ApiAnnotation = {
  path: string;
  start_line: number;
  end_line: number;
  annotation_level: 'notice' | 'warning' | 'failure';
  message: string;
  title?: string;
};

/** GitHub limits: message 64 KB, title 255 characters; a path must be repository-relative. */
export function toApiAnnotation(a: Annotation): ApiAnnotation {
  const out: ApiAnnotation = {
    path: a.path.replace(/^\.\//, ''),
    start_line: a.startLine,
    end_line: Math.max(a.startLine, a.endLine),
    annotation_level: a.level,
    message: truncateMarkdown(a.message, 60_000, 'message shortened'),
  };
  if (a.title) out.title = a.title.slice(0, 255);
  return out;
}

export function batches<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export async function publishCheckRun(octokit: Octokit, req: CheckRunRequest): Promise<CheckRunResult> {
  const summary = truncateMarkdown(
    req.summary,
    GITHUB_TEXT_LIMIT - 1_000,
    'the full judgement is in the job summary and the uploaded artifact.',
  );
  const [first = [], ...rest] = batches(req.annotations.map(toApiAnnotation), ANNOTATIONS_PER_REQUEST);
  const output = { title: req.title, summary };
  const created = await octokit.rest.checks.create({
    owner: req.owner,
    repo: req.repo,
    name: req.name,
    head_sha: req.headSha,
    status: 'completed',
    conclusion: CONCLUSION[req.decision],
    completed_at: new Date().toISOString(),
    ...(req.detailsUrl ? { details_url: req.detailsUrl } : {}),
    ...(req.externalId ? { external_id: req.externalId } : {}),
    output: first.length ? { ...output, annotations: first } : output,
  });
  const id = created.data.id;
  for (const batch of rest) {
    await octokit.rest.checks.update({
      owner: req.owner,
      repo: req.repo,
      check_run_id: id,
      output: { ...output, annotations: batch },
    });
  }
  return { id, url: created.data.html_url ?? undefined, annotationRequests: 1 + rest.length };
}
