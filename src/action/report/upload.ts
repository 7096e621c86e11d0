/**
 * Uploading the trace, judgement and screenshots as one workflow artifact. The upload needs the
 * runner's artifact service (ACTIONS_RUNTIME_TOKEN + ACTIONS_RESULTS_URL); outside a runner (or
 * when it fails) we warn and go on: the files stay on disk and their paths are outputs.
 */
import { existsSync } from 'node:fs';
import { DefaultArtifactClient } from '@actions/artifact';
import * as core from '@actions/core';
import { isGhesUnsupported } from '../restore-capsule.js';

export interface UploadResult {
  uploaded: boolean;
  id?: number;
  reason?: string;
}

/** Artifact names may not contain these characters. */
function artifactName(raw: string): string {
  return raw.replace(/[":<>|*?\\/\r\n]+/g, '-').slice(0, 200);
}

export async function uploadEvidence(
  name: string,
  files: string[],
  rootDirectory: string,
): Promise<UploadResult> {
  const present = [...new Set(files)].filter((f) => existsSync(f));
  if (present.length === 0) return { uploaded: false, reason: 'no files to upload' };
  if (!process.env.ACTIONS_RUNTIME_TOKEN || !process.env.ACTIONS_RESULTS_URL) {
    const reason =
      'the runner artifact service is not available (ACTIONS_RUNTIME_TOKEN/ACTIONS_RESULTS_URL unset)';
    core.warning(`Not uploading artifact ${name}: ${reason}. The files are kept at ${rootDirectory}.`);
    return { uploaded: false, reason };
  }
  try {
    const client = new DefaultArtifactClient();
    const res = await client.uploadArtifact(artifactName(name), present, rootDirectory, {
      retentionDays: 14,
    });
    core.info(`Uploaded artifact ${name} (${present.length} file(s))`);
    return { uploaded: true, id: res.id };
  } catch (err) {
    const reason = isGhesUnsupported(err)
      ? 'GitHub Enterprise Server has no v4 artifact service; upload the files with actions/upload-artifact@v3 in a later step'
      : (err as Error).message;
    core.warning(`Artifact upload ${name} failed: ${reason}. The files are kept at ${rootDirectory}.`);
    return { uploaded: false, reason };
  }
}
