/**
 * `scenario add`, step 0: every input checked before anything is exported, copied, run or
 * written — the manifest, the new entry (the registry's schema, problems named by flag), the
 * registry (valid, the id free), where the capsule comes from and how it is encrypted, the replay
 * target and the golden. Bad input is exit 2 and leaves nothing behind.
 */
import { resolve } from 'node:path';
import { type CapsuleKey, capsuleKeyFromEnv, capsuleOpenOptionsFor } from '../capsule/encryption.js';
import type { OpenOptions } from '../capsule/open.js';
import { InputError } from '../errors.js';
import { goldenFileIn } from '../judge/golden-paths.js';
import { goldenDirFor } from '../judge/setup.js';
import { type LoadedManifest, loadAppManifest } from '../manifest/load.js';
import { type Manifest, prodUrlEnv } from '../manifest/schema.js';
import { requestedRewrite } from '../manifest/subject-rewrite.js';
import { assertManifestSingleStatements } from '../postgres/single-statement.js';
import { assertFreeTarget, capsuleTarget, exportFileName } from '../scenario/capsule-store.js';
import { checkDraft, type ScenarioDraft, scenarioProbes } from '../scenario/entry.js';
import { openRegistry, type RegistryFile, scenarioIndex } from '../scenario/registry-file.js';
import { isInside } from '../util/contained-path.js';
import { requireRegularFile, statIfExists } from '../util/input-file-kind.js';
import type { CliIO } from './context.js';
import { encryptionKeyFor } from './encryption-options.js';
import { parseSubject } from './export-postgres.js';
import type { ScenarioAddFlags } from './scenario-add.js';
import { checkReplayTarget } from './scenario-replay.js';

type CapsuleSource =
  | {
      kind: 'export';
      subject: Record<string, string>;
      databaseUrl: string;
      databaseUrlEnv?: string;
      encrypt?: CapsuleKey;
      /** Absolute path under capsules/ the export writes. */
      target: string;
    }
  | { kind: 'capsule'; path: string };

export interface AddPlan {
  id: string;
  repo: string;
  loaded: LoadedManifest;
  draft: ScenarioDraft;
  probes: string[];
  registry: RegistryFile;
  source: CapsuleSource;
  /** How the replay opens the capsule (the key from REPLAY_CAPSULE_KEY / _FILE). */
  capsuleOpen: OpenOptions;
  goldenPath: string;
}

const EXPORT_ONLY: [keyof ScenarioAddFlags, string][] = [
  ['encryptTo', '--encrypt-to'],
  ['encrypt', '--encrypt'],
  ['unencrypted', '--unencrypted'],
  ['sourceDbUrl', '--source-db-url'],
  ['sinceDays', '--since-days'],
];

function inRepo(repo: string, path: string, flag: string, what: string): string {
  if (!isInside(repo, path))
    throw new InputError(
      `${flag}: ${path} is outside the repository ${repo}: the ${what} must live in the repository (run scenario add from its root)`,
      { field: flag },
    );
  return path;
}

/** The exported capsule's key: encrypted by default, and the replay must be able to read it. */
function exportKey(flags: ScenarioAddFlags, io: CliIO): CapsuleKey | undefined {
  if (flags.unencrypted && (flags.encrypt || flags.encryptTo))
    throw new InputError('--unencrypted and --encrypt / --encrypt-to are exclusive', {
      field: '--unencrypted',
    });
  const key = encryptionKeyFor(flags, io);
  if (!key && !flags.unencrypted)
    throw new InputError(
      'scenario add encrypts the exported capsule: give --encrypt-to age1… (the recipient `replay-env keygen` printed; repeat it, or give a recipients file, for more), or --encrypt with a passphrase in REPLAY_CAPSULE_KEY; --unencrypted stores it in clear (in the git-ignored capsules/)',
      { field: '--encrypt-to' },
    );
  if (!key && flags.redaction === 'raw')
    throw new InputError('--redaction raw needs encryption (--encrypt-to or --encrypt)', {
      field: '--redaction',
    });
  if (key && !capsuleKeyFromEnv(io.env, io.cwd))
    throw new InputError(
      'the replay that follows the export must decrypt the capsule: set REPLAY_CAPSULE_KEY_FILE to the age identity of one of the --encrypt-to recipients (`replay-env keygen --out key.txt` makes one; add its recipient with another --encrypt-to)',
      { field: 'REPLAY_CAPSULE_KEY_FILE' },
    );
  return key;
}

function exportSource(
  id: string,
  flags: ScenarioAddFlags,
  io: CliIO,
  manifest: Manifest,
  repo: string,
): CapsuleSource {
  const subject = parseSubject(manifest, flags.subject ?? []);
  const encrypt = exportKey(flags, io);
  const envName = prodUrlEnv(manifest);
  const databaseUrl = flags.sourceDbUrl || io.env[envName];
  if (!databaseUrl)
    throw new InputError(
      `no source database to export from: pass --source-db-url or set ${envName} (the manifest's postgres.prodDatabaseUrlEnv)`,
      { field: '--source-db-url' },
    );
  const target = capsuleTarget(repo, exportFileName(id, encrypt !== undefined));
  assertFreeTarget(target, repo);
  return {
    kind: 'export',
    subject,
    databaseUrl,
    ...(flags.sourceDbUrl ? {} : { databaseUrlEnv: envName }),
    ...(encrypt ? { encrypt } : {}),
    target,
  };
}

function capsuleSource(id: string, flags: ScenarioAddFlags, io: CliIO, manifest: Manifest, repo: string) {
  if (flags.subject && flags.capsule)
    throw new InputError(
      '--subject and --capsule are exclusive: export a subject, or take an existing capsule',
      {
        field: '--capsule',
      },
    );
  if (flags.capsule) {
    const given = EXPORT_ONLY.filter(([k]) => flags[k] !== undefined).map(([, f]) => f);
    if (flags.redaction === 'raw') given.push('--redaction');
    if (given.length)
      throw new InputError(
        `${given.join(', ')}: only for an export (--subject); --capsule is stored as it is`,
        {
          field: given[0],
        },
      );
    const path = resolve(io.cwd, flags.capsule);
    const st = statIfExists(path);
    if (!st) throw new InputError(`--capsule ${flags.capsule}: no such file`, { field: '--capsule' });
    requireRegularFile(path, st, '--capsule');
    return { kind: 'capsule' as const, path };
  }
  if (!flags.subject)
    throw new InputError(
      `give the capsule: --subject ${manifest.subjectKeys.map((k) => `${k}=<value>`).join(' --subject ')} to export it, or --capsule <file>`,
      { field: '--subject' },
    );
  return exportSource(id, flags, io, manifest, repo);
}

function draftOf(
  id: string,
  flags: ScenarioAddFlags,
  manifest: Manifest,
  manifestPath: string,
): ScenarioDraft {
  const rewrite = requestedRewrite(manifest, manifestPath, flags)?.values;
  return {
    id,
    title: flags.title,
    risk: flags.risk,
    ...(flags.bug !== undefined ? { bug: flags.bug } : {}),
    ...(flags.probe ? { probes: flags.probe } : {}),
    requiredFor: [...new Set(flags.requiredFor)],
    maxDurationSeconds: flags.maxDuration,
    ...(rewrite ? { subjectRewrite: rewrite } : {}),
  };
}

export async function planAdd(id: string, flags: ScenarioAddFlags, io: CliIO): Promise<AddPlan> {
  const repo = resolve(io.cwd);
  const loaded = loadAppManifest(flags.app, io.cwd);
  await assertManifestSingleStatements(loaded.manifest, loaded.path);
  const draft = draftOf(id, flags, loaded.manifest, loaded.path);
  const probes = scenarioProbes(draft, loaded.manifest, loaded.path);
  checkDraft(draft, probes);
  const registryPath = inRepo(repo, resolve(repo, flags.scenariosFile), '--scenarios-file', 'registry');
  const registry = openRegistry(registryPath);
  const taken = scenarioIndex(registry, id);
  if (taken >= 0)
    throw new InputError(
      `${registryPath}: scenarios[${taken}].id: a scenario ${JSON.stringify(id)} is already registered; choose another id, or remove it first (replay-env scenario remove ${id})`,
      { field: '<id>' },
    );
  const dir = goldenDirFor(
    { cwd: repo, ...(flags.golden ? { golden: flags.golden } : {}) },
    loaded,
    loaded.manifest.appId,
  );
  const goldenPath = inRepo(
    repo,
    goldenFileIn(dir, id),
    flags.golden ? '--golden' : `${loaded.path}: golden.dir`,
    'golden',
  );
  if (flags.artifact !== undefined && !flags.artifact.trim())
    throw new InputError('--artifact: give the artifact name', { field: '--artifact' });
  const source = capsuleSource(id, flags, io, loaded.manifest, repo);
  checkReplayTarget(loaded.manifest, flags, io);
  const capsuleOpen = capsuleOpenOptionsFor(capsuleKeyFromEnv(io.env, io.cwd));
  return { id, repo, loaded, draft, probes, registry, source, capsuleOpen, goldenPath };
}
