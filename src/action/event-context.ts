/**
 * What the workflow event means for reporting: which commit the check run goes on, which pull
 * request (if any) gets the sticky comment, and which run a capsule artifact comes from.
 *
 * - pull_request / pull_request_target: the PR and its head SHA come from the payload.
 * - push: the pushed SHA; no PR.
 * - schedule: GITHUB_SHA (the default branch head); no PR, no comment.
 * - workflow_dispatch: GITHUB_SHA; the dispatch inputs are exposed.
 * - workflow_run: the fork-safe two-workflow pattern. The triggering run's head SHA; the PR is the
 *   payload's pull_requests[0] or, for forks (GitHub leaves that list empty), looked up by head SHA.
 *   Artifacts of the triggering run are untrusted input: capsules and judgements from it are
 *   schema-validated like any user file, and nothing from them is executed.
 */
import { readFileSync } from 'node:fs';
import { InputError } from '../errors.js';

export interface EventContext {
  eventName: string;
  owner: string;
  repo: string;
  /** The commit the check run is attached to. */
  headSha: string;
  /** The pull request for the sticky comment, when there is one (resolved later for workflow_run). */
  prNumber?: number;
  /** This workflow run (artifacts of "the current run"). */
  runId?: number;
  /** workflow_run: the triggering run, whose artifacts are untrusted. */
  triggeringRunId?: number;
  /** workflow_run from a fork: head repository and branch, to look the PR up. */
  headRepository?: { owner: string; branch: string };
  dispatchInputs: Record<string, string>;
  /** Links for the report. */
  runUrl?: string;
  serverUrl: string;
}

type Payload = Record<string, unknown>;

function readPayload(path: string | undefined): Payload {
  if (!path) return {};
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Payload;
  } catch (err) {
    throw new InputError(
      `GITHUB_EVENT_PATH ${path}: cannot read the event payload (${(err as Error).message})`,
    );
  }
}

function obj(v: unknown): Payload {
  return v && typeof v === 'object' ? (v as Payload) : {};
}
function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}
function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

export function readEventContext(env: NodeJS.ProcessEnv): EventContext {
  const repository = env.GITHUB_REPOSITORY ?? '';
  const [owner, repo] = repository.split('/');
  if (!owner || !repo)
    throw new InputError(`GITHUB_REPOSITORY must be owner/name (got ${JSON.stringify(repository)})`);
  const eventName = env.GITHUB_EVENT_NAME ?? '';
  const payload = readPayload(env.GITHUB_EVENT_PATH);
  const serverUrl = env.GITHUB_SERVER_URL ?? 'https://github.com';
  const runId = env.GITHUB_RUN_ID ? Number(env.GITHUB_RUN_ID) : undefined;
  const ctx: EventContext = {
    eventName,
    owner,
    repo,
    headSha: env.GITHUB_SHA ?? '',
    runId: Number.isFinite(runId) ? runId : undefined,
    dispatchInputs: {},
    serverUrl,
    runUrl: runId ? `${serverUrl}/${owner}/${repo}/actions/runs/${runId}` : undefined,
  };
  switch (eventName) {
    case 'pull_request':
    case 'pull_request_target': {
      const pr = obj(payload.pull_request);
      ctx.prNumber = num(pr.number) ?? num(payload.number);
      ctx.headSha = str(obj(pr.head).sha) ?? ctx.headSha;
      break;
    }
    case 'push':
      ctx.headSha = str(payload.after) ?? ctx.headSha;
      break;
    case 'workflow_dispatch':
      for (const [k, v] of Object.entries(obj(payload.inputs)))
        if (v !== null && v !== undefined) ctx.dispatchInputs[k] = String(v);
      break;
    case 'workflow_run': {
      const run = obj(payload.workflow_run);
      ctx.headSha = str(run.head_sha) ?? ctx.headSha;
      ctx.triggeringRunId = num(run.id);
      const prs = Array.isArray(run.pull_requests) ? run.pull_requests : [];
      ctx.prNumber = num(obj(prs[0]).number);
      const headRepo = obj(run.head_repository);
      const headOwner = str(obj(headRepo.owner).login);
      const branch = str(run.head_branch);
      if (headOwner && branch) ctx.headRepository = { owner: headOwner, branch };
      break;
    }
    default:
      break;
  }
  if (!ctx.headSha) throw new InputError('GITHUB_SHA is not set and the event payload names no commit');
  return ctx;
}

/** Events that can have a pull request to comment on. */
export function mayHavePullRequest(ctx: EventContext): boolean {
  return ['pull_request', 'pull_request_target', 'workflow_run'].includes(ctx.eventName);
}
