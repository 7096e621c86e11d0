/**
 * One check run per app/scenario. Created completed with its conclusion, title and summary and the
 * first 50 annotations; the rest follow in further PATCH updates of 50 each (the Checks API takes
 * at most 50 annotations per request and appends them across updates).
 */
import { humanReason } from '../../judge/markdown.js';
import type { Annotation, Judgement, StepFailure } from '../../judge/schema.js';
import type { Decision } from '../../trace/schema.js';
import { plainText } from '../../util/markdown-escape.js';
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

/**
 * A title people read: the first failing step with expected vs actual when there is one, else the
 * first reason in plain words (`Blocked: a probe without allowFailure failed`). Plain text.
 */
export function checkRunTitle(
  j: Pick<Judgement, 'decision' | 'reasons'> & { failures?: StepFailure[] },
): string {
  const head = { block: 'Blocked', warn: 'Warning', continue: 'Passed' }[j.decision];
  const f = j.decision !== 'continue' ? j.failures?.[0] : undefined;
  const more = (j.failures?.length ?? 0) > 1 ? ` (+${j.failures!.length - 1} more)` : '';
  const first = f
    ? `${f.step}: expected ${f.expected}, got ${f.actual}${more}`
    : j.reasons[0]
      ? humanReason(j.reasons[0]).text
      : undefined;
  return plainText(first ? `${head}: ${first}` : head, { singleLine: true, max: 200 });
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
    message: truncateMarkdown(plainText(a.message), 60_000, 'message shortened'),
  };
  if (a.title) out.title = plainText(a.title, { singleLine: true, max: 255 });
  return out;
}

export function batches<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** The conclusion follows `fail-on`: a result that fails the step fails the check (a required check blocks). */
export function conclusionFor(
  decision: Decision,
  failOn: 'block' | 'warn' | 'never' = 'block',
): 'failure' | 'neutral' | 'success' {
  const fails = failOn === 'warn' ? decision !== 'continue' : failOn === 'block' && decision === 'block';
  if (fails) return 'failure';
  return decision === 'continue' ? 'success' : 'neutral';
}

/** A check run that shows the replay is running (completed later by publishCheckRun). */
export async function startCheckRun(
  octokit: Octokit,
  req: Pick<CheckRunRequest, 'owner' | 'repo' | 'headSha' | 'name' | 'detailsUrl' | 'externalId'>,
): Promise<{ id: number; url?: string }> {
  const created = await octokit.rest.checks.create({
    owner: req.owner,
    repo: req.repo,
    name: req.name,
    head_sha: req.headSha,
    status: 'in_progress',
    started_at: new Date().toISOString(),
    ...(req.detailsUrl ? { details_url: req.detailsUrl } : {}),
    ...(req.externalId ? { external_id: req.externalId } : {}),
    output: { title: 'Replaying…', summary: 'replay-env is replaying this commit; the result follows here.' },
  });
  return { id: created.data.id, url: created.data.html_url ?? undefined };
}

export async function publishCheckRun(
  octokit: Octokit,
  req: CheckRunRequest & { conclusion?: 'failure' | 'neutral' | 'success'; existingId?: number },
): Promise<CheckRunResult> {
  const summary = truncateMarkdown(
    req.summary,
    GITHUB_TEXT_LIMIT - 1_000,
    'the full judgement is in the job summary and the uploaded artifact.',
  );
  const [first = [], ...rest] = batches(req.annotations.map(toApiAnnotation), ANNOTATIONS_PER_REQUEST);
  const output = { title: plainText(req.title, { singleLine: true, max: 255 }), summary };
  const completion = {
    status: 'completed' as const,
    conclusion: req.conclusion ?? CONCLUSION[req.decision],
    completed_at: new Date().toISOString(),
    ...(req.detailsUrl ? { details_url: req.detailsUrl } : {}),
    ...(req.externalId ? { external_id: req.externalId } : {}),
    output: first.length ? { ...output, annotations: first } : output,
  };
  const target = { owner: req.owner, repo: req.repo };
  const done =
    req.existingId !== undefined
      ? await octokit.rest.checks.update({ ...target, check_run_id: req.existingId, ...completion })
      : await octokit.rest.checks.create({ ...target, name: req.name, head_sha: req.headSha, ...completion });
  const id = done.data.id;
  for (const batch of rest) {
    await octokit.rest.checks.update({
      ...target,
      check_run_id: id,
      output: { ...output, annotations: batch },
    });
  }
  return { id, url: done.data.html_url ?? undefined, annotationRequests: 1 + rest.length };
}
