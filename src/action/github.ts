/**
 * The Octokit client the Action reports with: @actions/github's getOctokit (its base URL comes
 * from GITHUB_API_URL, so GHES and the test server work), with bounded time per call:
 *
 * - every request has a timeout (an API that accepts the connection and never answers cannot hold
 *   the job);
 * - one retry budget per call (attempts and wall time together): a persistent 429 or 5xx gives up
 *   after a few attempts instead of retrying for minutes;
 * - rate limits (429, or 403 with `x-ratelimit-remaining: 0` / "secondary rate limit") are retried
 *   for any method, since GitHub did not apply the request; 5xx, timeouts and network errors only
 *   for reads — a POST is never retried blindly (the comment is found again before creating).
 */
import * as core from '@actions/core';
import { getOctokit } from '@actions/github';

export type Octokit = ReturnType<typeof getOctokit>;

export interface ClientOptions {
  token: string;
  baseUrl?: string;
  /** Per request (default 30 s). */
  requestTimeoutMs?: number;
  /** Attempts per call, the first included (default 4). */
  maxAttempts?: number;
  /** Wall time per call, retries and waits included (default 90 s). */
  budgetMs?: number;
}

type RequestOptions = { method: string; url: string; request?: Record<string, unknown> } & Record<
  string,
  unknown
>;
type RequestFn = (options: RequestOptions) => Promise<unknown>;

export function createOctokit(options: ClientOptions): Octokit {
  const octokit = getOctokit(options.token, options.baseUrl ? { baseUrl: options.baseUrl } : {});
  const policy = {
    timeoutMs: options.requestTimeoutMs ?? 30_000,
    maxAttempts: options.maxAttempts ?? 4,
    budgetMs: options.budgetMs ?? 90_000,
  };
  octokit.hook.wrap(
    'request',
    (request, opts) =>
      withRetryBudget(
        request as unknown as RequestFn,
        opts as unknown as RequestOptions,
        policy,
      ) as ReturnType<typeof request>,
  );
  return octokit;
}

async function withRetryBudget(
  request: RequestFn,
  opts: RequestOptions,
  policy: { timeoutMs: number; maxAttempts: number; budgetMs: number },
): Promise<unknown> {
  const deadline = Date.now() + policy.budgetMs;
  for (let attempt = 1; ; attempt++) {
    const left = Math.max(1_000, deadline - Date.now());
    try {
      return await request({
        ...opts,
        request: { ...opts.request, signal: AbortSignal.timeout(Math.min(policy.timeoutMs, left)) },
      });
    } catch (err) {
      const wait = retryDelayMs(err, opts.method, attempt);
      if (wait === undefined || attempt >= policy.maxAttempts || Date.now() + wait > deadline) {
        if (attempt > 1) (err as { attempts?: number }).attempts = attempt;
        throw err;
      }
      core.warning(
        `GitHub API ${opts.method} ${opts.url}: ${diagnose(err)}; retrying in ${Math.ceil(wait / 1000)}s (attempt ${attempt + 1} of ${policy.maxAttempts})`,
      );
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

/** How long to wait before retrying, or undefined when the call must not be retried. */
export function retryDelayMs(err: unknown, method: string, attempt: number): number | undefined {
  if (isRateLimited(err)) {
    const headers = responseHeaders(err);
    const after = Number(headers['retry-after']);
    if (Number.isFinite(after) && after >= 0) return after * 1000;
    const reset = Number(headers['x-ratelimit-reset']);
    if (Number.isFinite(reset) && reset > 0) return Math.max(1_000, reset * 1000 - Date.now());
    return 5_000 * attempt;
  }
  const read = method.toUpperCase() === 'GET';
  const status = httpStatus(err);
  const transient = !hasResponse(err) || (status !== undefined && status >= 500);
  return read && transient ? 1_000 * 2 ** (attempt - 1) : undefined;
}

/** HTTP status of an Octokit error (RequestError), if any. */
export function httpStatus(err: unknown): number | undefined {
  const s = (err as { status?: unknown })?.status;
  return typeof s === 'number' ? s : undefined;
}

function hasResponse(err: unknown): boolean {
  return Boolean((err as { response?: unknown })?.response);
}

function responseHeaders(err: unknown): Record<string, string> {
  return ((err as { response?: { headers?: Record<string, string> } })?.response?.headers ?? {}) as Record<
    string,
    string
  >;
}

/** A primary (429, or 403 with no requests left) or secondary rate limit. */
export function isRateLimited(err: unknown): boolean {
  const status = httpStatus(err);
  if (status === 429) return true;
  if (status !== 403) return false;
  const headers = responseHeaders(err);
  if (headers['x-ratelimit-remaining'] === '0' || headers['retry-after'] !== undefined) return true;
  return /rate limit/i.test((err as Error)?.message ?? '');
}

/**
 * A write was refused because the token cannot write (fork pull requests get a read-only token;
 * `permissions:` may lack checks/pull-requests: write). GitHub answers some writes a token may
 * not see with 404, so 404 counts for writes only; a rate limit is not a permission problem.
 */
export function isPermissionError(err: unknown, method = 'POST'): boolean {
  if (isRateLimited(err)) return false;
  const s = httpStatus(err);
  if (s === 401 || s === 403) return true;
  return s === 404 && method.toUpperCase() !== 'GET';
}

/** One line saying what went wrong, in the words a maintainer would use. */
export function diagnose(err: unknown): string {
  const status = httpStatus(err);
  const message = ((err as Error)?.message ?? String(err)).split('\n')[0];
  if (isRateLimited(err))
    return `rate limited (HTTP ${status}${/secondary/i.test(message ?? '') ? ', secondary rate limit' : ''})`;
  if (!hasResponse(err)) {
    const cause = (err as { cause?: { name?: string } })?.cause;
    return cause?.name === 'TimeoutError' || /timeout|aborted/i.test(message ?? '')
      ? 'no answer in time (request timeout)'
      : `network error (${message})`;
  }
  return `HTTP ${status}: ${message}`;
}
