/**
 * Reporting the scenarios' outcomes of one Action run, in two steps: first what needs no network
 * (the job summary and the step's outputs, judgement files already on disk), then the network
 * (the evidence artifact, a check run per scenario, the sticky comment).
 */
import * as core from '@actions/core';
import type { Judgement } from '../judge/schema.js';
import type { Decision } from '../trace/schema.js';
import { renderForAction, type ScenarioOutcome } from './pipeline.js';
import type { ReplayContext, ScenarioResult } from './replay-scenarios.js';
import { aggregateMarkdown, worstDecision } from './report/aggregate.js';
import { checkRunTitle, conclusionFor } from './report/check-run.js';
import { evidenceLine, judgedLine, type UploadedArtifact } from './report/links.js';
import type { Publisher, ReportUnit } from './report/publish.js';
import { writeJobSummary } from './report/summary.js';
import { uploadEvidence } from './report/upload.js';
import type { Settings } from './settings.js';

interface Part {
  judgement: Judgement;
  markdown: string;
  checkName: string;
  checkRunUrl?: string;
}

/** The job summary, outputs, artifact, check runs and comment; returns the worst decision. */
export async function reportOutcomes(
  ctx: ReplayContext,
  publisher: Publisher,
  results: ScenarioResult[],
  artifactName: string | undefined,
  commentKey: string,
): Promise<Decision> {
  const decision = worstDecision(results.map((o) => o.outcome.judgement.decision));
  const render = (o: ScenarioOutcome, artifact: UploadedArtifact | undefined) =>
    renderForAction(o.judgement, {
      evidenceLine: evidenceLine(ctx.event, artifact),
      footer: judgedLine(ctx.event),
    });
  const parts: Part[] = results.map((o) => ({
    judgement: o.outcome.judgement,
    markdown: render(o.outcome, artifactName ? { name: artifactName } : undefined),
    checkName: o.checkName,
  }));
  const summaryTitle = ctx.many
    ? `replay-env / ${ctx.app} (${results.length} scenarios)`
    : results[0]!.checkName;
  // Before any network call: judgement files are on disk; now the summary and the outputs.
  await writeJobSummary(ctx.many ? aggregateMarkdown(summaryTitle, parts) : parts[0]!.markdown);
  setOutputs(decision, results);

  // Network: artifact, check runs, comment.
  const artifact = artifactName ? await uploadArtifact(artifactName, results, ctx.outRoot) : undefined;
  const { failOn } = ctx.settings;
  for (const [i, o] of results.entries()) {
    parts[i]!.markdown = render(o.outcome, artifact);
    const res = await publisher.checkRun(
      unitFor(o.checkName, o.outcome.judgement, parts[i]!.markdown, failOn),
    );
    if (res?.url) parts[i]!.checkRunUrl = res.url;
  }
  if (ctx.settings.comment) {
    const first = results[0]!.outcome.judgement;
    await publisher.comment(
      ctx.many
        ? { ...unitFor(commentKey, first, aggregateMarkdown(summaryTitle, parts), failOn), decision }
        : unitFor(commentKey, first, parts[0]!.markdown, failOn),
    );
  }
  return decision;
}

function setOutputs(decision: Decision, results: ScenarioResult[]): void {
  core.setOutput('decision', decision);
  core.setOutput(
    'trace-path',
    results
      .map((o) => o.outcome.tracePath)
      .filter(Boolean)
      .join('\n'),
  );
  core.setOutput('judgement-path', results.map((o) => o.outcome.judgementPath).join('\n'));
}

async function uploadArtifact(
  name: string,
  results: ScenarioResult[],
  outRoot: string,
): Promise<UploadedArtifact> {
  const up = await uploadEvidence(
    name,
    results.flatMap((o) => o.outcome.files),
    outRoot,
  );
  return { name, ...(up.id !== undefined ? { id: up.id } : {}) };
}

function unitFor(checkName: string, j: Judgement, markdown: string, failOn: Settings['failOn']): ReportUnit {
  return {
    checkName,
    decision: j.decision,
    conclusion: conclusionFor(j.decision, failOn),
    title: checkRunTitle(j),
    markdown,
    annotations: j.annotations,
    externalId: j.scenario ? `${j.app}/${j.scenario}` : j.app,
  };
}
