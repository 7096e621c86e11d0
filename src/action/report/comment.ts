/**
 * The sticky pull-request comment: one per check name, found again by a hidden marker in its
 * body, updated in place on every re-run and created only when absent.
 */
import { httpStatus, type Octokit } from '../github.js';
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

/**
 * Who the token writes as. A personal token can ask GET /user; the workflow's GITHUB_TOKEN (an
 * installation token) cannot (403) and writes as `github-actions[bot]`.
 */
export async function tokenIdentity(octokit: Octokit): Promise<string> {
  try {
    const me = await octokit.rest.users.getAuthenticated();
    return me.data.login;
  } catch {
    return 'github-actions[bot]';
  }
}

/**
 * Our comment: it carries the marker AND the token's identity wrote it. Anyone may paste the
 * marker into a comment of their own; that one is never edited (a new comment is written instead).
 */
export async function findStickyComment(
  octokit: Octokit,
  req: Pick<StickyCommentRequest, 'owner' | 'repo' | 'prNumber' | 'checkName'>,
  author: string,
): Promise<{ id: number; html_url: string } | undefined> {
  const marker = commentMarker(req.checkName);
  // All pages: on a busy PR the comment may be far back.
  for await (const page of octokit.paginate.iterator(octokit.rest.issues.listComments, {
    owner: req.owner,
    repo: req.repo,
    issue_number: req.prNumber,
    per_page: 100,
  })) {
    const found = page.data.find(
      (c) => c.body?.startsWith(marker) && c.user?.login?.toLowerCase() === author.toLowerCase(),
    );
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
  const author = await tokenIdentity(octokit);
  const existing = await findStickyComment(octokit, req, author);
  if (existing) {
    const res = await octokit.rest.issues.updateComment({
      owner: req.owner,
      repo: req.repo,
      comment_id: existing.id,
      body,
    });
    return { id: res.data.id, url: res.data.html_url, action: 'updated' };
  }
  const create = () =>
    octokit.rest.issues.createComment({ owner: req.owner, repo: req.repo, issue_number: req.prNumber, body });
  try {
    const res = await create();
    return { id: res.data.id, url: res.data.html_url, action: 'created' };
  } catch (err) {
    // Never a blind second POST: the first may have been written before the connection broke.
    // Look again; create once more only if it is not there (permission errors are final).
    if ([401, 403, 404, 422].includes(httpStatus(err) ?? 0)) throw err;
    const written = await findStickyComment(octokit, req, author);
    if (written) return { id: written.id, url: written.html_url, action: 'created' };
    const res = await create();
    return { id: res.data.id, url: res.data.html_url, action: 'created' };
  }
}
