/**
 * The phases before connecting: the manifest's SQL is checked, the capsule indexed (capsule/rows.ts)
 * and checked against the manifest (check.ts), the subject graph built (with the subject rewrite).
 */

import { type SubjectRewrite, SubjectRewriter } from '../../../capsule/rewrite.js';
import { type IndexedCapsule, indexCapsule } from '../../../capsule/rows.js';
import {
  type CapsuleColumnEncodings,
  columnEncodingsOf,
  REDACTION_ASSUMED_WARNING,
  redactionWasAssumed,
} from '../../../capsule/schema.js';
import { InputError } from '../../../errors.js';
import { assertManifestSingleStatements } from '../../single-statement.js';
import { checkCapsule } from '../check.js';
import { closureRowCount } from '../closure-rows.js';
import type { LoadStrategy } from '../load-table.js';
import { subjectGraph } from '../subject-graph.js';
import type { MaterializeOptions } from '../types.js';
import { interrupted } from './transaction.js';

/** The fastest exact strategy (bench/RESULTS.md); tables it cannot take load through jsonb. */
export const DEFAULT_STRATEGY: LoadStrategy = 'copy';
export const DEFAULT_CHUNK_SIZE = 1000;

export interface LoadSettings {
  strategy: LoadStrategy;
  chunkSize: number;
}

/** What the capsule asks to load, checked before connecting. */
export interface CapsuleSource {
  capsule: IndexedCapsule;
  /** The capsule's tables, in file order. */
  tables: string[];
  /** Referential-closure rows per table (the last n rows of each table's array). */
  closureCounts: Map<string, number>;
  rewrite: SubjectRewrite | null;
  /** The subject graph's rows for the temporary graph table (rewritten). */
  graph: Record<string, unknown>[];
  rewriter: SubjectRewriter | null;
  /** Columns carried as text, per table (schemaVersion 2 `columnEncodings`). */
  encodings: CapsuleColumnEncodings;
  warnings: string[];
}

export function loadSettings(options: MaterializeOptions): LoadSettings {
  const strategy = options.strategy ?? DEFAULT_STRATEGY;
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (!Number.isInteger(chunkSize) || chunkSize <= 0)
    throw new InputError(`chunk size must be a positive integer, got ${chunkSize}`);
  return { strategy, chunkSize };
}

/** The manifest's statements checked, then the capsule indexed (the caller closes it). */
export async function indexCapsuleToLoad(options: MaterializeOptions): Promise<IndexedCapsule> {
  if (options.signal?.aborted) throw interrupted();
  await assertManifestSingleStatements(options.manifest, 'manifest');
  return indexCapsule(options.capsulePath, options.open);
}

export function checkCapsuleSource(options: MaterializeOptions, capsule: IndexedCapsule): CapsuleSource {
  if (options.signal?.aborted) throw interrupted();
  const tables = checkCapsule(options.manifest, capsule, options.capsulePath);
  const closureCounts = new Map<string, number>();
  for (const t of tables) {
    const n = closureRowCount(capsule.header, t, capsule.counts[t] ?? 0, options.capsulePath);
    if (n > 0) closureCounts.set(t, n);
  }
  const { rewrite, graph } = subjectGraph(options.manifest, capsule.header, options);
  return {
    capsule,
    tables,
    closureCounts,
    rewrite,
    graph,
    rewriter: rewrite ? new SubjectRewriter(rewrite) : null,
    encodings: columnEncodingsOf(capsule.header),
    warnings: redactionWasAssumed(capsule.header) ? [REDACTION_ASSUMED_WARNING] : [],
  };
}
