/**
 * What makes a report trustworthy on a pull request: which commit it judged, from which workflow
 * run and when (a comment from an older commit is never mistaken for the verdict on this one), and
 * links to the run and the uploaded trace artifact instead of runner-local paths.
 */
import { mdCode, mdLink, mdText } from '../../util/markdown-escape.js';
import type { EventContext } from '../event-context.js';

export interface UploadedArtifact {
  name: string;
  id?: number;
}

function artifactUrl(event: EventContext, id: number | undefined): string | undefined {
  if (id === undefined || event.runId === undefined) return undefined;
  return `${event.serverUrl}/${event.owner}/${event.repo}/actions/runs/${event.runId}/artifacts/${id}`;
}

function commitUrl(event: EventContext): string {
  return `${event.serverUrl}/${event.owner}/${event.repo}/commit/${event.headSha}`;
}

/** `Judged commit abc1234 · workflow run 4242 · 2026-12-02 04:30 UTC` (links where known). */
export function judgedLine(event: EventContext, now: Date = new Date(), verb = 'Judged'): string {
  const sha = /^[0-9a-f]{7,64}$/i.test(event.headSha) ? event.headSha : '';
  const commit = sha ? `[\`${sha.slice(0, 7)}\`](${commitUrl(event)})` : mdCode(event.headSha || 'unknown');
  const run =
    event.runId !== undefined ? mdLink(`workflow run ${event.runId}`, event.runUrl) : 'this workflow run';
  const when = `${now.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  return `<sub>${verb} commit ${commit} · ${run} · ${when}</sub>`;
}

/** The "Evidence" line: the run's log and the trace artifact (name, and a link once uploaded). */
export function evidenceLine(event: EventContext, artifact: UploadedArtifact | undefined): string {
  const parts = [mdLink('workflow run log', event.runUrl)];
  if (artifact) {
    const url = artifactUrl(event, artifact.id);
    parts.push(
      url
        ? `trace, judgement and screenshots: ${mdLink(`artifact ${artifact.name}`, url)}`
        : `trace, judgement and screenshots: artifact ${mdCode(artifact.name)} of this run`,
    );
  } else parts.push('the trace and judgement are not uploaded (trace-artifact: none)');
  return `**Evidence** — ${parts.join(' · ')}`;
}

/** The report when the replay stopped before any judgement (capsule, key, database, manifest). */
export function setupFailureMarkdown(event: EventContext, message: string, now: Date = new Date()): string {
  const [first = '', ...rest] = message.split('\n');
  return [
    '## 🛑 **BLOCK** — replay-env could not judge this commit',
    '',
    'The replay stopped before any probe was judged, so there is no verdict for this commit:',
    '',
    `> ${mdText(first, 1_000)}`,
    ...(rest.some((l) => l.trim())
      ? ['', '_More detail (e.g. a workflow snippet) is in the workflow run log._']
      : []),
    '',
    evidenceLine(event, undefined).replace(/ · the trace.*$/, ''),
    '',
    judgedLine(event, now, 'Tried'),
    '',
  ].join('\n');
}
