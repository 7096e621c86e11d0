/**
 * The Octokit client the Action reports with: @actions/github's getOctokit (its base URL comes
 * from GITHUB_API_URL, so GHES and the test server work), plus retries with backoff for transient
 * errors (5xx, network) and throttling that waits out primary and secondary rate limits.
 */
import * as core from '@actions/core';
import { getOctokit } from '@actions/github';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';

export type Octokit = ReturnType<typeof getOctokit>;

export interface ClientOptions {
  token: string;
  baseUrl?: string;
  /** How often to retry a rate-limited request before giving up. */
  rateLimitRetries?: number;
}

export function createOctokit(options: ClientOptions): Octokit {
  const maxRetries = options.rateLimitRetries ?? 3;
  // Both rate limits: warn, then retry after GitHub's delay up to maxRetries times.
  const onLimit =
    (what: string) =>
    (retryAfter: number, opts: { method: string; url: string }, _o: unknown, count: number) => {
      core.warning(`GitHub API ${what} for ${opts.method} ${opts.url}; retrying in ${retryAfter}s`);
      return count < maxRetries;
    };
  return getOctokit(
    options.token,
    {
      ...(options.baseUrl ? { baseUrl: options.baseUrl } : {}),
      retry: { retries: 3 },
      throttle: {
        onRateLimit: onLimit('rate limit hit'),
        onSecondaryRateLimit: onLimit('secondary rate limit hit'),
      },
    },
    retry,
    throttling,
  );
}

/** HTTP status of an Octokit error (RequestError), if any. */
export function httpStatus(err: unknown): number | undefined {
  const s = (err as { status?: unknown })?.status;
  return typeof s === 'number' ? s : undefined;
}

/**
 * A write was refused because the token cannot write (fork pull requests get a read-only token;
 * `permissions:` may lack checks/pull-requests: write). 404 is how GitHub answers some writes a
 * token may not see, so it counts too for writes.
 */
export function isPermissionError(err: unknown): boolean {
  const s = httpStatus(err);
  return s === 401 || s === 403 || s === 404;
}
