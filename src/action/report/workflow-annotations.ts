/**
 * Workflow-command annotations (::error file=…,line=…::). They need no token, so they are the
 * fallback when the token cannot write check runs (fork pull requests). GitHub shows at most 10
 * errors and 10 warnings per step; the rest are counted in one line.
 */
import * as core from '@actions/core';
import type { Annotation } from '../../judge/schema.js';

const PER_LEVEL = 10;

export function emitWorkflowAnnotations(annotations: Annotation[]): number {
  const shown: Record<Annotation['level'], number> = { failure: 0, warning: 0, notice: 0 };
  let emitted = 0;
  for (const a of annotations) {
    if (shown[a.level] >= PER_LEVEL) continue;
    shown[a.level]++;
    emitted++;
    const props = { file: a.path, startLine: a.startLine, endLine: a.endLine, title: a.title };
    if (a.level === 'failure') core.error(a.message, props);
    else if (a.level === 'warning') core.warning(a.message, props);
    else core.notice(a.message, props);
  }
  const hidden = annotations.length - emitted;
  if (hidden > 0)
    core.info(`${hidden} more annotation(s) are in the judgement file (GitHub shows 10 per level per step)`);
  return emitted;
}
