/**
 * Getting the capsule onto disk: a path in the workspace, or a workflow artifact — from this run
 * (the runner's artifact service) or from another run / repository (the REST API, `findBy`).
 * After the download the capsule file is picked by content (gzip magic, the REPLAYENC1 header) or
 * name (.json, .json.gz); a missing artifact names what was looked for and where.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { DefaultArtifactClient, type FindOptions } from '@actions/artifact';
import { type CapsuleEncoding, detectEncoding } from '../capsule/open.js';
import { FailureError, InputError } from '../errors.js';

export interface RestoreRequest {
  capsule?: string;
  artifact?: string;
  runId?: number;
  /** owner/name; default: the current repository. */
  repository?: string;
  token: string;
  currentRepository: { owner: string; repo: string };
  workspace: string;
  downloadDir: string;
}

export interface RestoredCapsule {
  path: string;
  encoding: CapsuleEncoding;
  /** Human description of where it came from. */
  source: string;
}

const CAPSULE_NAME = /\.(json|json\.gz|gz|enc|capsule)$/i;
const NOT_CAPSULE = /\.(judgement|trace)\.json$/i;

export async function restoreCapsule(req: RestoreRequest): Promise<RestoredCapsule> {
  if (req.capsule) {
    const path = isAbsolute(req.capsule) ? req.capsule : resolve(req.workspace, req.capsule);
    if (!existsSync(path))
      throw new InputError(`input "capsule": ${req.capsule} not found (looked in ${req.workspace})`);
    return { path, encoding: await detectEncoding(path), source: `file ${req.capsule}` };
  }
  if (!req.artifact)
    throw new InputError('give input "capsule" (a path) or "capsule-artifact" (an artifact name)');
  return restoreFromArtifact(req, req.artifact);
}

async function restoreFromArtifact(req: RestoreRequest, name: string): Promise<RestoredCapsule> {
  const [owner, repo] = req.repository
    ? (req.repository.split('/') as [string, string])
    : [req.currentRepository.owner, req.currentRepository.repo];
  const where = req.runId ? `workflow run ${req.runId} of ${owner}/${repo}` : 'this workflow run';
  let findBy: FindOptions['findBy'];
  if (req.runId) {
    if (!req.token)
      throw new InputError(`input "github-token" is needed to download artifact "${name}" from ${where}`);
    findBy = { token: req.token, workflowRunId: req.runId, repositoryOwner: owner, repositoryName: repo };
  } else if (!process.env.ACTIONS_RUNTIME_TOKEN || !process.env.ACTIONS_RESULTS_URL) {
    throw new FailureError(
      `cannot download artifact "${name}" from ${where}: the runner's artifact service is not available ` +
        '(ACTIONS_RUNTIME_TOKEN/ACTIONS_RESULTS_URL unset). Give "capsule-run-id" to fetch it from another run.',
    );
  }
  const client = new DefaultArtifactClient();
  let id: number;
  try {
    const found = await client.getArtifact(name, findBy ? { findBy } : undefined);
    id = found.artifact.id;
  } catch (err) {
    const status = (err as { status?: number }).status;
    if (isGhesUnsupported(err))
      throw new FailureError(`cannot download capsule artifact "${name}" from ${where}: ${GHES_HINT}`);
    const hint =
      status === 403 || status === 401
        ? ' The token may not read it: give "github-token" with actions: read on that repository.'
        : ' Check the artifact name, that the run uploaded it, and that it has not expired (artifacts expire after the retention period).';
    throw new InputError(`capsule artifact "${name}" not found in ${where}: ${firstLine(err)}.${hint}`);
  }
  const dir = join(req.downloadDir, `artifact-${id}`);
  await mkdir(dir, { recursive: true });
  try {
    await client.downloadArtifact(id, { path: dir, ...(findBy ? { findBy } : {}) });
  } catch (err) {
    throw new FailureError(
      `downloading capsule artifact "${name}" (id ${id}) from ${where} failed: ${firstLine(err)}`,
    );
  }
  const path = await pickCapsuleFile(dir, `artifact "${name}" from ${where}`);
  return {
    path,
    encoding: await detectEncoding(path),
    source: `artifact "${name}" (id ${id}) from ${where}`,
  };
}

function firstLine(err: unknown): string {
  return ((err as Error)?.message ?? String(err)).split('\n')[0]!.trim();
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(join(entry.parentPath, entry.name));
  }
  return out.sort();
}

/** The one capsule file in a downloaded artifact. */
export async function pickCapsuleFile(dir: string, what: string): Promise<string> {
  const files = await listFiles(dir);
  const candidates: string[] = [];
  for (const f of files) {
    if (NOT_CAPSULE.test(f)) continue;
    if (CAPSULE_NAME.test(f) || (await detectEncoding(f)) !== 'json') candidates.push(f);
  }
  if (candidates.length === 1) return candidates[0]!;
  const names = files.map((f) => relative(dir, f));
  if (candidates.length === 0) {
    throw new InputError(
      `${what} holds no capsule file (.json, .json.gz or encrypted); it contains: ${names.join(', ') || '(nothing)'}`,
    );
  }
  // Several: prefer a single non-empty one ending in a capsule-ish name.
  const sizes = await Promise.all(candidates.map(async (c) => (await stat(c)).size));
  const nonEmpty = candidates.filter((_, i) => sizes[i]! > 0);
  if (nonEmpty.length === 1) return nonEmpty[0]!;
  throw new InputError(
    `${what} holds several possible capsule files (${candidates.map((c) => relative(dir, c)).join(', ')}); upload one capsule per artifact`,
  );
}

/**
 * GitHub Enterprise Server has no v4 artifact service (@actions/artifact v2+ refuses with
 * GHESNotSupportedError): not a missing artifact nor a missing permission.
 */
export function isGhesUnsupported(err: unknown): boolean {
  const e = err as { name?: string; message?: string };
  return e?.name === 'GHESNotSupportedError' || /not currently supported on GHES/i.test(e?.message ?? '');
}

export const GHES_HINT =
  'this is GitHub Enterprise Server, where the artifact service the Action uses (v4 artifacts) is not available. ' +
  'Download the capsule in an earlier step (actions/download-artifact@v3 on GHES) and give its path as input "capsule".';
