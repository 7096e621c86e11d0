/**
 * Publishing results to GitHub: check runs, then the sticky comment. Never crashes the step:
 * a refused write (a fork's read-only token, missing `permissions:`) degrades to workflow
 * annotations plus the job summary (already written) with one warning; other API errors (after
 * the client's retries) are warnings too — the judgement is on disk and in the summary already.
 */
import * as core from '@actions/core';
import type { Annotation } from '../../judge/schema.js';
import type { Decision } from '../../trace/schema.js';
import { type EventContext, mayHavePullRequest } from '../event-context.js';
import { diagnose, isPermissionError, type Octokit } from '../github.js';
import { publishCheckRun, startCheckRun } from './check-run.js';
import { upsertStickyComment } from './comment.js';
import { findPullRequestForSha } from './pull-request.js';
import { emitWorkflowAnnotations } from './workflow-annotations.js';

export interface ReportUnit {
  checkName: string;
  decision: Decision;
  title: string;
  markdown: string;
  annotations: Annotation[];
  externalId?: string;
  /** Check-run conclusion (from fail-on); default from the decision. */
  conclusion?: 'failure' | 'neutral' | 'success';
}

export interface PublishOutcome {
  checkRuns: { name: string; id: number; url?: string }[];
  commentUrl?: string;
  /** Why something was not published (empty when all went out). */
  degraded: string[];
}

export class Publisher {
  private writesRefused = false;
  /** In-progress check runs by name (start), completed by checkRun. */
  private readonly started = new Map<string, number>();
  readonly outcome: PublishOutcome = { checkRuns: [], degraded: [] };

  constructor(
    private readonly octokit: Octokit | undefined,
    private readonly event: EventContext,
  ) {}

  /** Check runs `in_progress` for the names about to be replayed (details: this workflow run). */
  async start(names: string[]): Promise<void> {
    for (const name of names) {
      if (!this.octokit || this.writesRefused || this.started.has(name)) continue;
      try {
        const res = await startCheckRun(this.octokit, {
          owner: this.event.owner,
          repo: this.event.repo,
          headSha: this.event.headSha,
          name,
          detailsUrl: this.event.runUrl,
        });
        this.started.set(name, res.id);
        core.info(`Check run "${name}": in progress (id ${res.id})`);
      } catch (err) {
        this.refused(err, `creating check run "${name}"`);
      }
    }
  }

  /** Names started but not completed yet. */
  pending(): string[] {
    const done = new Set(this.outcome.checkRuns.map((c) => c.name));
    return [...this.started.keys()].filter((n) => !done.has(n));
  }

  async checkRun(unit: ReportUnit): Promise<{ id: number; url?: string } | undefined> {
    if (!this.octokit || this.writesRefused) return this.fallback(unit, 'no check run');
    try {
      const res = await publishCheckRun(this.octokit, {
        existingId: this.started.get(unit.checkName),
        conclusion: unit.conclusion,
        owner: this.event.owner,
        repo: this.event.repo,
        headSha: this.event.headSha,
        name: unit.checkName,
        decision: unit.decision,
        title: unit.title,
        summary: unit.markdown,
        annotations: unit.annotations,
        detailsUrl: this.event.runUrl,
        externalId: unit.externalId,
      });
      this.outcome.checkRuns.push({ name: unit.checkName, ...res });
      core.info(`Check run "${unit.checkName}": ${unit.decision} (id ${res.id})`);
      return res;
    } catch (err) {
      this.refused(err, `creating check run "${unit.checkName}"`);
      return this.fallback(unit, 'check run failed');
    }
  }

  /** The sticky comment, when the event has a pull request. */
  async comment(unit: ReportUnit): Promise<string | undefined> {
    if (!mayHavePullRequest(this.event)) {
      core.info(`No pull request for a ${this.event.eventName || 'unknown'} event: no comment`);
      return undefined;
    }
    if (!this.octokit || this.writesRefused) return undefined;
    try {
      let pr = this.event.prNumber;
      if (pr === undefined && this.event.eventName === 'workflow_run') {
        pr = await findPullRequestForSha(this.octokit, this.event);
        if (pr === undefined) core.info(`No open pull request has head ${this.event.headSha}: no comment`);
      }
      if (pr === undefined) return undefined;
      const res = await upsertStickyComment(this.octokit, {
        owner: this.event.owner,
        repo: this.event.repo,
        prNumber: pr,
        checkName: unit.checkName,
        body: unit.markdown,
      });
      core.info(`PR #${pr} comment ${res.action}: ${res.url}`);
      this.outcome.commentUrl = res.url;
      return res.url;
    } catch (err) {
      this.refused(err, 'writing the pull request comment');
      return undefined;
    }
  }

  private refused(err: unknown, what: string): void {
    const method = String((err as { request?: { method?: string } })?.request?.method ?? 'POST');
    if (isPermissionError(err, method)) {
      this.writesRefused = true;
      const why =
        `GitHub refused ${what} (${diagnose(err)}). The token cannot write — a pull request from a fork ` +
        'gets a read-only token, or the workflow lacks `permissions: checks: write, pull-requests: write`. ' +
        'The result is in the job summary and as workflow annotations; see docs/action.md (fork safety).';
      core.warning(why);
      this.outcome.degraded.push(why);
    } else {
      const why = `${what} failed (${diagnose(err)}); the result is in the job summary`;
      core.warning(why);
      this.outcome.degraded.push(why);
    }
  }

  private fallback(unit: ReportUnit, _why: string): undefined {
    core.info(`${unit.checkName}: ${unit.decision} — ${unit.title}`);
    emitWorkflowAnnotations(unit.annotations);
    return undefined;
  }
}
