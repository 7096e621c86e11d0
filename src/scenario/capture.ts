/**
 * `scenario add` from a subject: the export `export-postgres` runs (postgres/export), with the
 * zero-setup sections (the schema and referential closure) so the capsule replays into an empty
 * database, gzip always, and the redaction and encryption the front door chose (safe and
 * encrypted unless told otherwise). One read-only snapshot of the source; nothing is printed.
 */
import type { CapsuleKey } from '../capsule/encryption.js';
import type { Manifest } from '../manifest/schema.js';
import {
  type ExportProgress,
  type ExportResult,
  exportCapsule,
  type RedactionMode,
} from '../postgres/export/export-capsule.js';
import { DEFAULT_SINCE_DAYS } from '../postgres/export/sql.js';
import { zeroSetupHooks } from '../postgres/export/zero-setup.js';

export interface CaptureInput {
  manifest: Manifest;
  subject: Record<string, string>;
  databaseUrl: string;
  /** The variable the URL came from (recorded in the capsule's source), when not a flag. */
  databaseUrlEnv?: string;
  out: string;
  redaction: RedactionMode;
  encrypt?: CapsuleKey;
  sinceDays?: number;
  statementTimeoutMs?: number;
  env: Record<string, string | undefined>;
  signal?: AbortSignal;
  onProgress?: (e: ExportProgress) => void;
}

export async function captureCapsule(input: CaptureInput): Promise<ExportResult> {
  const zeroSetup = zeroSetupHooks(input.manifest, { schema: true });
  return exportCapsule({
    ...(zeroSetup.extraRows ? { extraRows: zeroSetup.extraRows } : {}),
    extraSections: zeroSetup.extraSections,
    manifest: input.manifest,
    subject: input.subject,
    databaseUrl: input.databaseUrl,
    ...(input.databaseUrlEnv ? { databaseUrlEnv: input.databaseUrlEnv } : {}),
    out: input.out,
    gzip: true,
    sinceDays: input.sinceDays ?? DEFAULT_SINCE_DAYS,
    redaction: input.redaction,
    statementTimeoutMs: input.statementTimeoutMs ?? input.manifest.postgres.statementTimeoutMs,
    ...(input.encrypt ? { encrypt: input.encrypt } : {}),
    env: input.env,
    ...(input.onProgress ? { onProgress: input.onProgress } : {}),
    ...(input.signal ? { signal: input.signal } : {}),
  });
}
