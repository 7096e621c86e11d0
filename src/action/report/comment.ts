/**
 * The sticky pull-request comment: one per check name, found again by a hidden marker in its
 * body, updated in place on every re-run and created only when absent.
 */
import type { Octokit } from '../github.js';
import { GITHUB_TEXT_LIMIT, truncateMarkdown } from './truncate.js';

export function commentMarker(checkName: string): string {
  // `--` cannot appear inside an HTML comment.
  return `<!-- replay-env:${checkName.replace(/--+/g, '-')} -->`;
}

export interface StickyCommentRequest {
  owner: string;
  repo: string;
  prNumber: number;
  checkName: string;
  body: string;
}

export interface StickyCommentResult {
  id: number;
  url: string;
  action: 'created' | 'updated';
}

export async function findStickyComment(
  octokit: Octokit,
  req: Pick<StickyCommentRequest, 'owner' | 'repo' | 'prNumber' | 'checkName'>,
): Promise<{ id: number; html_url: string } | undefined> {
  const marker = commentMarker(req.checkName);
  // All pages: on a busy PR the comment may be far back.
  for await (const page of octokit.paginate.iterator(octokit.rest.issues.listComments, {
    owner: req.owner,
    repo: req.repo,
    issue_number: req.prNumber,
    per_page: 100,
  })) {
    const found = page.data.find((c) => c.body?.includes(marker));
    if (found) return { id: found.id, html_url: found.html_url };
  }
  return undefined;
}

export async function upsertStickyComment(
  octokit: Octokit,
  req: StickyCommentRequest,
): Promise<StickyCommentResult> {
  const marker = commentMarker(req.checkName);
  const body = `${marker}\n${truncateMarkdown(
    req.body,
    GITHUB_TEXT_LIMIT - 1_000,
    'see the check run, the job summary and the uploaded artifact for the full judgement.',
  )}`;
  const existing = await findStickyComment(octokit, req);
  if (existing) {
    const res = await octokit.rest.issues.updateComment({
      owner: req.owner,
      repo: req.repo,
      comment_id: existing.id,
      body,
    });
    return { id: res.data.id, url: res.data.html_url, action: 'updated' };
  }
  const res = await octokit.rest.issues.createComment({
    owner: req.owner,
    repo: req.repo,
    issue_number: req.prNumber,
    body,
  });
  return { id: res.data.id, url: res.data.html_url, action: 'created' };
}
