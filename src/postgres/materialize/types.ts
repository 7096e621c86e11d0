/** The types of materializeCapsule's options and result (materialize-capsule.ts re-exports them). */
import type pg from 'pg';
import type { OpenOptions } from '../../capsule/open.js';
import type { CapsuleHeader } from '../../capsule/schema.js';
import type { Manifest } from '../../manifest/schema.js';
import type { DependentDelete } from './delete-phase.js';
import type { LoadStrategy } from './load-table.js';

/** One table's row counts after a load (the trace's `materialization.counts` entry has this shape). */
export interface TableCount {
  table: string;
  capsule: number;
  database: number | null;
  /** Content hash check when the capsule carried one: true/false, null when not checked. */
  hashMatch?: boolean | null;
}

type MaterializeProgress =
  | { phase: 'delete'; table: string }
  | { phase: 'load'; table: string; chunk: number; rowsLoaded: number }
  | { phase: 'verify'; table: string };

/** What the zero-setup path plugs in: create the capsule's tables before loading. */
export type PrepareTarget = (
  client: pg.Client,
  header: CapsuleHeader,
) => Promise<{ afterLoad?: () => Promise<void>; createdTables?: string[] } | undefined>;

export interface MaterializeOptions {
  manifest: Manifest;
  capsulePath: string;
  /** Replay target database URL (already checked against production-looking hosts by the caller). */
  url: string;
  /** Default `copy` (the original's default was `jsonb`; both load the same values). */
  strategy?: LoadStrategy;
  /** Rows per chunk (default 1000). */
  chunkSize?: number;
  /** New subject values, by subject key (from --rewrite-subject / --use-local-subject). */
  rewrite?: Record<string, string>;
  /** Where `rewrite` came from, for error messages. */
  rewriteSource?: string;
  /** `session_replication_role = replica` for the load: no triggers, no FK checks (superuser). */
  disableTriggers?: boolean;
  /** Plan only: EXPLAIN the deletes and inserts in a transaction that is rolled back. */
  explain?: boolean;
  /** Recompute content hashes when the capsule has an integrity record (default true). */
  verifyHashes?: boolean;
  onProgress?: (event: MaterializeProgress) => void | Promise<void>;
  /** Decryption for encrypted capsules (front door supplies the key). */
  open?: OpenOptions;
  applicationName?: string;
  /**
   * Hook for zero-setup replay: runs inside the transaction before the target's catalog is read
   * (create the tables from the capsule's `schema` section); `afterLoad` runs after the rows are in.
   */
  prepareTarget?: PrepareTarget;
  /** Cancellation: roll back and throw an InterruptedError (see the header). */
  signal?: AbortSignal;
  /**
   * Rows of undeclared tables that reference the graph's rows being replaced are deleted too
   * (listed in `dependents`), instead of the load failing on them (delete-phase.ts).
   */
  deleteDependents?: boolean;
}

export interface TableLoadStats {
  table: string;
  rows: number;
  ms: number;
  rowsPerSec: number;
  strategy: LoadStrategy;
}

export interface MaterializeResult {
  status: 'ok' | 'explained';
  strategy: LoadStrategy;
  /** How rows were read: `lines` (one row per line, our writer) or `spooled` (any other layout). */
  reader: 'lines' | 'spooled';
  counts: TableCount[];
  /** Phase timings in ms: index, connect, catalog, graph, delete, load, sequences, verify, commit. */
  phases: Record<string, number>;
  tables: TableLoadStats[];
  loadOrder: string[];
  rewritten: { from: Record<string, string>; to: Record<string, string>; values: number } | null;
  /** Whether content hashes were compared, and why not when they were not. */
  hashCheck: 'verified' | 'no-integrity-record' | 'skipped-after-rewrite' | 'disabled';
  sequences: { sequence: string; value: string }[];
  warnings: string[];
  explain?: { statement: string; plan: string }[];
  /** Referential-closure rows (reference data, ON CONFLICT DO NOTHING); null when the capsule has none. */
  closure: ClosureLoadReport | null;
  /** Rows of undeclared tables deleted by --delete-dependents, per table and constraint. */
  dependents: DependentDelete[];
  durationMs: number;
}

export interface ClosureLoadReport {
  rows: number;
  /** Closure rows the target already held (some unique key): kept as they were, not replaced. */
  alreadyPresent: number;
  tables: {
    table: string;
    rows: number;
    alreadyPresent: number;
    /**
     * `key`: every closure row's key was looked up in the target after the load; `whole-table`:
     * the table was created empty by --create-schema and checked whole; `no-key`: the target
     * table has no primary key or unique index, so only a count range was checked.
     */
    check: 'key' | 'whole-table' | 'no-key';
  }[];
}
