/**
 * Finding the pull request of a workflow_run (the payload's pull_requests list is empty for fork
 * PRs): first the PRs associated with the head commit, then open PRs from the head fork branch.
 * Only a PR whose head is exactly that commit is taken, so a later push does not get an old result.
 */
import type { EventContext } from '../event-context.js';
import type { Octokit } from '../github.js';

export async function findPullRequestForSha(
  octokit: Octokit,
  ctx: EventContext,
): Promise<number | undefined> {
  const bySha = await octokit.rest.repos.listPullRequestsAssociatedWithCommit({
    owner: ctx.owner,
    repo: ctx.repo,
    commit_sha: ctx.headSha,
  });
  const match = bySha.data.find((pr) => pr.head.sha === ctx.headSha && pr.state === 'open');
  if (match) return match.number;
  if (ctx.headRepository) {
    const byHead = await octokit.rest.pulls.list({
      owner: ctx.owner,
      repo: ctx.repo,
      state: 'open',
      head: `${ctx.headRepository.owner}:${ctx.headRepository.branch}`,
    });
    const fork = byHead.data.find((pr) => pr.head.sha === ctx.headSha);
    if (fork) return fork.number;
  }
  return undefined;
}
