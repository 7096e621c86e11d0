/** The job summary (GITHUB_STEP_SUMMARY): written first, before any network call. */
import * as core from '@actions/core';
import { truncateMarkdown } from './truncate.js';

/** GitHub shows at most 1 MiB of summary per step. */
const SUMMARY_LIMIT_BYTES = 1024 * 1024;

export async function writeJobSummary(markdown: string): Promise<boolean> {
  if (!process.env.GITHUB_STEP_SUMMARY) {
    core.info('GITHUB_STEP_SUMMARY is not set; skipping the job summary');
    return false;
  }
  const text = truncateMarkdown(
    markdown,
    SUMMARY_LIMIT_BYTES - 4_096,
    'the job summary is limited to 1 MiB; the full judgement is in the uploaded artifact.',
  );
  await core.summary.addRaw(text, true).write();
  return true;
}
