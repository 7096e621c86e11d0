/**
 * `materializeCapsule`: load a capsule into the replay database, exactly and all-or-nothing.
 * Contract: shared/spec/MANIFEST.md ("How materialize is defined", "Subject rewrite").
 *
 * One transaction: the graph goes into a temporary table; each capsule table's graph rows are
 * deleted with its `deletePredicate` in reverse load order; rows are inserted in load order
 * (COPY or jsonb_populate_recordset, see load-table.ts; referential-closure rows first, as
 * reference data with ON CONFLICT DO NOTHING, see closure-rows.ts); owned sequences are moved past the
 * loaded maximum; the graph's rows are counted (and content-hashed when the capsule has an
 * integrity record) and compared with the capsule; only then COMMIT. Any failure rolls back, and
 * a killed process leaves Postgres to roll back, so the target is never half-loaded.
 *
 * Cancellation (`signal`, Ctrl-C in the CLI): the running statement is cancelled
 * (pg_cancel_backend from a second connection; if that cannot connect, the session is closed and
 * the server rolls back), the transaction is rolled back and an InterruptedError says nothing was
 * loaded. Once COMMIT is sent the load completes. A lost connection (server restart,
 * pg_terminate_backend) is reported as such: the server rolled the transaction back.
 *
 * Stage rules: no printing, no process.env; the CLI, the run loop and the Action call this.
 */

import type pg from 'pg';
import type { OpenOptions } from '../../capsule/open.js';
import { SubjectRewriter } from '../../capsule/rewrite.js';
import { indexCapsule } from '../../capsule/rows.js';
import {
  type CapsuleHeader,
  columnEncodingsOf,
  REDACTION_ASSUMED_WARNING,
  redactionWasAssumed,
} from '../../capsule/schema.js';
import { FailureError, InputError, InterruptedError, ReplayError } from '../../errors.js';
import type { Manifest, ManifestTable } from '../../manifest/schema.js';
import { quoteIdent } from '../../util/sql-names.js';
import { cancelBackend } from '../cancel-query.js';
import { readForeignKeys } from '../catalog.js';
import { connect, describePgError, isConnectionLost } from '../connect.js';
import { assertManifestSingleStatements } from '../single-statement.js';
import { checkCapsule } from './check.js';
import {
  closureOnlyTables,
  closureRowCount,
  type ReferenceKey,
  readReferenceKey,
  takeRows,
  verifyClosureTable,
} from './closure-rows.js';
import { type DeferredForeignKey, deferForeignKeys, restoreForeignKeys } from './defer-fks.js';
import { type DependentDelete, deleteGraphRows } from './delete-phase.js';
import { describeLoadError, hasSqlState, withoutValues } from './load-error.js';
import { checkCycles, materializeOrder, planLoad, schemaSectionForeignKeys } from './load-plan.js';
import { type LoadStrategy, loadTable, type TableLoadResult } from './load-table.js';
import { restoreSequences, type SequenceState, snapshotSequences } from './sequence-snapshot.js';
import {
  catalogName,
  copySql,
  createGraphSql,
  deleteSql,
  GRAPH_TABLE,
  insertGraphSql,
  jsonbInsertSql,
  tableSql,
} from './sql.js';
import { subjectGraph } from './subject-graph.js';
import { readTargetTables } from './target-catalog.js';
import { countGraphRows, hashGraphRows } from './verify.js';

/** One table's row counts after a load (the trace's `materialization.counts` entry has this shape). */
export interface TableCount {
  table: string;
  capsule: number;
  database: number | null;
  /** Content hash check when the capsule carried one: true/false, null when not checked. */
  hashMatch?: boolean | null;
}

export { checkCapsule } from './check.js';
export type { LoadStrategy } from './load-table.js';
export { planMaterialization } from './plan.js';

const VERIFY_SETTINGS =
  "set local timezone = 'UTC'; set local datestyle = 'ISO, MDY'; set local intervalstyle = 'postgres'; set local bytea_output = 'hex'; set local extra_float_digits = 1";

/** The fastest exact strategy (bench/RESULTS.md); tables it cannot take load through jsonb. */
export const DEFAULT_STRATEGY: LoadStrategy = 'copy';
export const DEFAULT_CHUNK_SIZE = 1000;

export type MaterializeProgress =
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

export async function materializeCapsule(options: MaterializeOptions): Promise<MaterializeResult> {
  const started = performance.now();
  const phases: Record<string, number> = {};
  const strategy = options.strategy ?? DEFAULT_STRATEGY;
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (!Number.isInteger(chunkSize) || chunkSize <= 0)
    throw new InputError(`chunk size must be a positive integer, got ${chunkSize}`);
  let mark = performance.now();
  const phase = (name: string) => {
    const now = performance.now();
    phases[name] = (phases[name] ?? 0) + (now - mark);
    mark = now;
  };

  const { signal } = options;
  const interrupted = (cause?: unknown) =>
    new InterruptedError(
      'materialize interrupted; nothing was loaded: the transaction was rolled back and the target is unchanged',
      { cause },
    );
  if (signal?.aborted) throw interrupted();
  await assertManifestSingleStatements(options.manifest, 'manifest');
  const capsule = await indexCapsule(options.capsulePath, options.open);
  try {
    phase('index');
    if (signal?.aborted) throw interrupted();
    const tablesInCapsule = checkCapsule(options.manifest, capsule, options.capsulePath);
    // Referential-closure rows per table: the last n rows of each table's array.
    const closureCounts = new Map<string, number>();
    for (const t of tablesInCapsule) {
      const n = closureRowCount(capsule.header, t, capsule.counts[t] ?? 0, options.capsulePath);
      if (n > 0) closureCounts.set(t, n);
    }
    const subjectKeys = options.manifest.subjectKeys;
    const { rewrite, graph } = subjectGraph(options.manifest, capsule.header, options);
    const rewriter = rewrite ? new SubjectRewriter(rewrite) : null;
    const warnings: string[] = redactionWasAssumed(capsule.header) ? [REDACTION_ASSUMED_WARNING] : [];

    const client = await connect(options.url, {
      role: 'replay target',
      applicationName: options.applicationName ?? 'replay-env materialize',
    });
    // A terminated backend sends its reason (e.g. "terminating connection due to administrator
    // command") as a connection error; later queries only say "not queryable". Keep the reason.
    const connectionErrors: unknown[] = [];
    client.on('error', (e) => connectionErrors.push(e));
    phase('connect');
    let inTransaction = false;
    let sequenceStates: SequenceState[] = [];
    // What the load was doing, for a lost connection's message.
    let doing = 'starting the transaction';
    // Awaited before the client is closed, so the cancel can only reach this session.
    let cancelling: Promise<void> | null = null;
    const onAbort = () => {
      cancelling = cancelRunningStatement(options.url, client);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const checkpoint = () => {
      if (signal?.aborted) throw interrupted();
    };
    try {
      checkpoint();
      await client.query('begin');
      inTransaction = true;
      doing = 'preparing the target';
      const prepared = options.prepareTarget
        ? await options.prepareTarget(client, capsule.header)
        : undefined;
      const schema = (await client.query<{ s: string }>('select current_schema() as s')).rows[0]!.s;
      const manifestTables = options.manifest.postgres.tables;
      const foreignKeys = await readForeignKeys(client, schema);
      const targets = await readTargetTables(client, schema, tablesInCapsule.map(catalogName));
      const missing = tablesInCapsule.filter((t) => !targets.has(catalogName(t)));
      if (missing.length > 0) {
        throw new FailureError(
          `the replay target has no table ${missing.join(', ')} (schema ${schema}): apply the app's migrations to it first (the manifest's "setup" commands), or create the tables from the schema the capsule carries with --create-schema (the Action: create-schema: true)`,
        );
      }
      // One plan over declared and closure-only tables, parents first (load-plan.ts); tables
      // only closure added have no deletePredicate (see closureOnlyTables).
      const closureOnly = closureOnlyTables(options.manifest, capsule.header, tablesInCapsule);
      // Tables --create-schema just created have no foreign keys yet: plan with the schema
      // section's, so both targets load in the same order (they are added after the rows, so no
      // cycle among them blocks the load).
      const planKeys = prepared?.createdTables?.length
        ? [
            ...foreignKeys,
            ...schemaSectionForeignKeys(capsule.header.schema).map((fk) => ({ ...fk, deferrable: true })),
          ]
        : foreignKeys;
      const planned = materializeOrder(
        planLoad({ manifest: options.manifest, closureOnly, foreignKeys: planKeys }),
        tablesInCapsule,
        capsule.counts,
      );
      warnings.push(...planned.warnings);
      const loadOrder = planned.order;
      // Tables created empty by prepareTarget (--create-schema) are verified whole: every row,
      // closure rows included, must be exactly the capsule's.
      const createdEmpty = new Set(prepared?.createdTables ?? []);
      // Sequences move outside the transaction: recorded to be set back if the load fails.
      sequenceStates = await snapshotSequences(client, targets.values());
      phase('catalog');

      if (options.disableTriggers) {
        try {
          await client.query('set local session_replication_role = replica');
        } catch (err) {
          throw new FailureError(
            `--disable-triggers needs a superuser (or a role allowed to SET session_replication_role); the server refused: ${describePgError(err)}`,
            { cause: err },
          );
        }
      }
      const byName = new Map(manifestTables.map((t) => [t.name, t]));
      // Deferrable constraints (cycles, self-references across chunks) are checked at COMMIT.
      await client.query('set constraints all deferred');
      // Self-references of tables holding closure and graph rows, and FK cycles: their foreign
      // keys are checked at the end of the load (defer-fks.ts); restored before COMMIT.
      const deferral = options.disableTriggers
        ? { deferred: [] as DeferredForeignKey[], warnings: [] }
        : await deferForeignKeys(client, {
            schema,
            tables: loadOrder,
            selfRefTables: [...closureCounts.keys()],
            cycles: planned.cycles.map((c) => c.tables),
          });
      warnings.push(
        ...deferral.warnings,
        ...checkCycles(planned.cycles, new Set(deferral.deferred.map((d) => d.name)), options),
      );
      await client.query(createGraphSql(subjectKeys));
      await client.query(insertGraphSql(subjectKeys), [JSON.stringify(graph)]);
      // Temporary tables are never auto-analyzed; without statistics the deletes and the
      // verification join are planned for a 1-row-per-page guess.
      await client.query(`analyze ${GRAPH_TABLE}`);
      phase('graph');

      if (options.explain) {
        const explain = await explainStatements(client, loadOrder, byName, targets, closureCounts);
        await client.query('rollback');
        inTransaction = false;
        return {
          status: 'explained',
          closure: null,
          dependents: [],
          strategy,
          reader: capsule.layout,
          counts: [],
          phases: roundPhases(phases),
          tables: [],
          loadOrder,
          rewritten: rewrite ? { ...rewrite, values: 0 } : null,
          hashCheck: 'disabled',
          sequences: [],
          warnings,
          explain,
          durationMs: Math.round(performance.now() - started),
        };
      }

      doing = "deleting the graph's rows";
      const dependents = await deleteGraphRows({
        client,
        schema,
        loadOrder,
        byName,
        deferred: deferral.deferred,
        deleteDependents: options.deleteDependents === true,
        onTable: async (table) => {
          checkpoint();
          doing = `deleting the graph's rows from ${table}`;
          await options.onProgress?.({ phase: 'delete', table });
        },
      });
      for (const d of dependents)
        warnings.push(
          `--delete-dependents: deleted ${d.rows} row${d.rows === 1 ? '' : 's'} of undeclared table ${d.table} referencing ${d.references} (${d.constraint})`,
        );
      phase('delete');

      const integrity = capsule.header.integrity;
      const encodings = columnEncodingsOf(capsule.header);
      const hashCheck: MaterializeResult['hashCheck'] =
        options.verifyHashes === false
          ? 'disabled'
          : !integrity
            ? 'no-integrity-record'
            : rewriter
              ? 'skipped-after-rewrite'
              : 'verified';
      const tables: TableLoadStats[] = [];
      const hashColumns = new Map<string, string[] | null>();
      // Closure rows loaded as reference data (tables that existed before this load).
      const references = new Map<
        string,
        { key: ReferenceKey | null; result: NonNullable<TableLoadResult['reference']> }
      >();
      for (const table of loadOrder) {
        checkpoint();
        doing = `loading ${table}`;
        const t0 = performance.now();
        const base = {
          client,
          table,
          signal,
          target: targets.get(catalogName(table))!,
          strategy,
          chunkSize,
          rewriter,
          encodings: encodings[table],
          serverError: () => connectionErrors.find(hasSqlState),
          onChunk: options.onProgress
            ? (info: { table: string; chunk: number; rowsLoaded: number }) =>
                options.onProgress!({ phase: 'load', ...info })
            : undefined,
        };
        const closureRows = closureCounts.get(table) ?? 0;
        let result: TableLoadResult;
        if (closureRows === 0 || createdEmpty.has(table)) {
          // No closure rows, or a table --create-schema just created: nothing to conflict with.
          result = await loadTable({ ...base, batches: capsule.rows(table, chunkSize) });
        } else {
          const key = await readReferenceKey(client, schema, catalogName(table));
          const graphRows = capsule.counts[table]! - closureRows;
          // Closure rows first: they are the parents the table's graph rows point at (a
          // self-reference like referred_by or reply_to needs them in before a row that uses them).
          // They are the table's last rows, read from their own offset.
          const closure = await loadTable({
            ...base,
            batches: capsule.rows(table, chunkSize, graphRows),
            firstRow: graphRows,
            reference: {
              keyColumns: key?.columns ?? null,
              hash: hashCheck === 'verified' ? integrity!.algorithm : null,
            },
          });
          references.set(table, { key, result: closure.reference! });
          const graph =
            graphRows > 0
              ? await loadTable({ ...base, batches: takeRows(capsule.rows(table, chunkSize), graphRows) })
              : null;
          result = graph ? mergeLoads(graph, closure) : closure;
        }
        const ms = performance.now() - t0;
        if (result.rows !== capsule.counts[table]) {
          throw new FailureError(
            `${options.capsulePath}: tables.${table}: read ${result.rows} rows but the capsule index counted ${capsule.counts[table]}; the file changed while loading?`,
          );
        }
        if (result.unknownColumns.length > 0)
          warnings.push(
            `${table}: capsule columns the target does not have were not loaded: ${result.unknownColumns.join(', ')}`,
          );
        if (result.generatedColumns.length > 0)
          warnings.push(
            `${table}: generated columns computed by Postgres, capsule values not loaded: ${result.generatedColumns.join(', ')}`,
          );
        if (result.strategy !== strategy)
          warnings.push(
            `${table}: loaded with jsonb (composite-typed columns cannot be COPY text from JSON)`,
          );
        hashColumns.set(
          table,
          result.unknownColumns.length > 0 ? null : [...result.columns, ...result.generatedColumns],
        );
        tables.push({
          table,
          rows: result.rows,
          ms: Math.round(ms),
          rowsPerSec: ms > 0 ? Math.round((result.rows * 1000) / ms) : result.rows,
          strategy: result.strategy,
        });
        phase(`load:${table}`);
      }
      phases.load = tables.reduce((s, t) => s + t.ms, 0);
      if (prepared?.afterLoad) {
        await prepared.afterLoad();
        phase('afterLoad');
      }

      checkpoint();
      doing = 'moving sequences';
      const sequences = await bumpSequences(client, loadOrder, targets, hashColumns);
      phase('sequences');

      const counts: TableCount[] = [];
      const problems: string[] = [];
      // The exporter renders rows with these settings; hashes compare the same text forms.
      if (hashCheck === 'verified') await client.query(VERIFY_SETTINGS);
      for (const table of loadOrder) {
        checkpoint();
        doing = `verifying ${table}`;
        await options.onProgress?.({ phase: 'verify', table });
        const whole = createdEmpty.has(table) || !byName.has(table);
        const predicate = whole ? 'true' : byName.get(table)!.deletePredicate!;
        const expected = capsule.counts[table]!;
        const columns = hashColumns.get(table);
        const recorded = integrity?.tables[table];
        const closureRows = closureCounts.get(table) ?? 0;
        const reference = references.get(table);
        if (reference?.key) {
          // Closure rows into a table that existed: graph rows checked as always (closure keys
          // excluded), every closure row's key must be present (kept or inserted).
          const check = await verifyClosureTable(client, {
            table,
            predicate: byName.has(table) ? predicate : null,
            expected,
            closureRows,
            key: reference.key,
            keys: reference.result.keys,
            inserted: reference.result.inserted,
            hash:
              hashCheck === 'verified' && recorded && columns && reference.result.hash
                ? {
                    recorded: recorded.sha256,
                    columns,
                    closure: reference.result.hash,
                    algorithm: integrity!.algorithm,
                    encodings: encodings[table],
                  }
                : null,
          });
          problems.push(...check.problems);
          if (check.keysWithNull > 0)
            warnings.push(
              `${table}: ${check.keysWithNull} referential-closure rows have a NULL in their key (${reference.key.columns.join(', ')}; redacted?) and could not be looked up in the target`,
            );
          counts.push({ table, capsule: expected, database: check.database, hashMatch: check.hashMatch });
          continue;
        }
        const hashing = hashCheck === 'verified' && recorded && columns;
        // A hash query counts the rows too (one scan instead of two).
        const hashed =
          hashing && !reference && (byName.has(table) || createdEmpty.has(table))
            ? await hashGraphRows(client, table, predicate, columns, integrity!.algorithm, encodings[table])
            : null;
        const database = hashed ? hashed.rows : await countGraphRows(client, table, predicate);
        let hashMatch: boolean | null = null;
        if (reference || (!byName.has(table) && !createdEmpty.has(table))) {
          // No key to look closure rows up by (the target table has no primary key or unique
          // index): some closure rows may not match the deletePredicate, and a closure-only table
          // may hold other rows; count a range and skip the hash.
          const low = byName.has(table) ? expected - closureRows : expected;
          const ok = byName.has(table) ? database >= low && database <= expected : database >= expected;
          if (!ok)
            problems.push(
              `${table}: capsule has ${expected} rows (${closureRows} added by referential closure), the target has ${database} matching rows`,
            );
          counts.push({ table, capsule: expected, database: ok ? expected : database, hashMatch: null });
          continue;
        }
        if (hashed && recorded) {
          hashMatch = hashed.sha256 === recorded.sha256;
          if (!hashMatch && database === expected)
            problems.push(
              `${table}: the loaded rows' content hash differs from the capsule's integrity record`,
            );
        }
        if (database !== expected)
          problems.push(
            `${table}: capsule has ${expected} rows, the target has ${database} rows matching its deletePredicate`,
          );
        counts.push({ table, capsule: expected, database, hashMatch });
      }
      phase('verify');
      if (problems.length > 0) {
        throw new FailureError(
          `${options.capsulePath}: materialization integrity check failed:\n${problems.map((p) => `  ${p}`).join('\n')}\n(rows that do not match their table's deletePredicate would not be replaced by the next materialize; the transaction was rolled back and the target is unchanged)`,
        );
      }

      checkpoint();
      // Foreign keys made deferrable for the load are checked now and restored (defer-fks.ts).
      doing = 'checking foreign keys';
      await restoreForeignKeys(client, deferral.deferred);
      phase('constraints');
      checkpoint();
      // From here on the load completes: a COMMIT cut short would leave its outcome unknown.
      signal?.removeEventListener('abort', onAbort);
      doing = 'committing';
      try {
        await client.query('commit');
        inTransaction = false;
      } catch (err) {
        inTransaction = false;
        if (isConnectionLost(err))
          throw new FailureError(
            `the connection to the replay target was lost during COMMIT (${lostReason(err, connectionErrors)}): the load may or may not have been committed; run materialize again (it replaces the subject's rows) once the server is reachable`,
            { cause: err },
          );
        await restoreSequences(client, sequenceStates);
        throw new FailureError(
          `COMMIT failed (a deferred constraint?): ${describeLoadError(err)}; the target is unchanged`,
          { cause: err },
        );
      }
      phase('commit');
      return {
        status: 'ok',
        closure: closureReport(closureCounts, references, createdEmpty),
        dependents,
        strategy,
        reader: capsule.layout,
        counts,
        phases: roundPhases(phases),
        tables,
        loadOrder,
        rewritten: rewrite ? { ...rewrite, values: rewriter!.replaced } : null,
        hashCheck,
        sequences,
        warnings,
        durationMs: Math.round(performance.now() - started),
      };
    } catch (err) {
      if (inTransaction) {
        await client.query('rollback').catch(() => {});
        await restoreSequences(client, sequenceStates);
      }
      if (signal?.aborted && doing !== 'committing') throw interrupted(err);
      if (inTransaction && isConnectionLost(err))
        throw new FailureError(
          `the connection to the replay target was lost while ${doing} (${lostReason(err, connectionErrors)}); the server rolls back the open transaction of a lost connection, so nothing was loaded and the target is unchanged. Run materialize again once the server is reachable`,
          { cause: err },
        );
      if (err instanceof FailureError || err instanceof InputError) throw err;
      const reason = hasSqlState(err) ? err : (connectionErrors.find(hasSqlState) ?? err);
      throw new FailureError(
        `materialize failed: ${describeLoadError(reason)}; the transaction was rolled back and the target is unchanged`,
        { cause: err },
      );
    } finally {
      signal?.removeEventListener('abort', onAbort);
      // Bounded: an unreachable server must not hold the interrupted command (the fallback of a
      // cancel that cannot connect is closing this session, done just below anyway).
      if (cancelling) await Promise.race([cancelling, delay(5000)]);
      await client.end().catch(() => {});
    }
  } finally {
    await capsule.close();
  }
}

/**
 * Cancels whatever `client` is running (cancel-query.ts; the session stays usable for ROLLBACK).
 * When the cancel cannot be sent the session is closed instead; the server rolls its
 * transaction back either way.
 */
async function cancelRunningStatement(url: string, client: pg.Client): Promise<void> {
  if (!(await cancelBackend(url, client, 'replay target'))) await client.end().catch(() => {});
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** The server's reason for a lost connection (with its SQLSTATE), else the socket's. */
function lostReason(err: unknown, connectionErrors: unknown[]): string {
  let root: unknown = err;
  while (root instanceof ReplayError && root.cause) root = root.cause;
  const reason = hasSqlState(root) ? root : (connectionErrors.find(hasSqlState) ?? root);
  const code = (reason as { code?: string }).code;
  if (hasSqlState(reason)) return `${withoutValues(describePgError(reason))} [SQLSTATE ${code}]`;
  // The server's goodbye (e.g. 57P01 on shutdown) can be lost when the socket is reset while we
  // are still sending COPY data.
  if (code === 'ECONNRESET' || code === 'EPIPE')
    return `the server closed the connection (${withoutValues(describePgError(reason))})`;
  return withoutValues(describePgError(reason));
}

function closureReport(
  closureCounts: Map<string, number>,
  references: Map<string, { key: ReferenceKey | null; result: { inserted: number } }>,
  createdEmpty: Set<string>,
): ClosureLoadReport | null {
  if (closureCounts.size === 0) return null;
  const tables: ClosureLoadReport['tables'] = [];
  for (const [table, rows] of closureCounts) {
    const ref = references.get(table);
    tables.push({
      table,
      rows,
      alreadyPresent: ref ? rows - ref.result.inserted : 0,
      check: createdEmpty.has(table) || !ref ? 'whole-table' : ref.key ? 'key' : 'no-key',
    });
  }
  return {
    rows: tables.reduce((s, t) => s + t.rows, 0),
    alreadyPresent: tables.reduce((s, t) => s + t.alreadyPresent, 0),
    tables,
  };
}

/** One table loaded in two parts (graph rows, then closure rows) as one result. */
function mergeLoads(a: TableLoadResult, b: TableLoadResult): TableLoadResult {
  const union = (x: string[], y: string[]) => [...new Set([...x, ...y])];
  return {
    rows: a.rows + b.rows,
    strategy: a.strategy === 'jsonb' || b.strategy === 'jsonb' ? 'jsonb' : a.strategy,
    columns: union(a.columns, b.columns),
    unknownColumns: union(a.unknownColumns, b.unknownColumns),
    generatedColumns: union(a.generatedColumns, b.generatedColumns),
    statements: a.statements + b.statements,
    reference: b.reference,
  };
}

function roundPhases(p: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(p).map(([k, v]) => [k, Math.round(v)]));
}

async function bumpSequences(
  client: pg.Client,
  tables: readonly string[],
  targets: Awaited<ReturnType<typeof readTargetTables>>,
  loadedColumns: Map<string, string[] | null>,
): Promise<{ sequence: string; value: string }[]> {
  const out: { sequence: string; value: string }[] = [];
  for (const table of tables) {
    const target = targets.get(catalogName(table))!;
    const loaded = new Set(loadedColumns.get(table) ?? [...target.columns.keys()]);
    for (const col of target.columns.values()) {
      if (!col.sequence || !loaded.has(col.name)) continue;
      const { rows } = await client.query<{ v: string | null }>(
        `select setval($1::regclass, x.m, true)::text as v
           from (select max(${quoteIdent(col.name)})::bigint as m from ${tableSql(table)}) x,
                (select last_value, is_called from ${col.sequence}) s
          where x.m is not null and x.m >= s.last_value + (case when s.is_called then 1 else 0 end)`,
        [col.sequence],
      );
      if (rows[0]?.v) out.push({ sequence: col.sequence, value: rows[0].v });
    }
  }
  return out;
}

async function explainStatements(
  client: pg.Client,
  loadOrder: readonly string[],
  byName: Map<string, ManifestTable>,
  targets: Awaited<ReturnType<typeof readTargetTables>>,
  closureCounts: Map<string, number>,
): Promise<{ statement: string; plan: string }[]> {
  const out: { statement: string; plan: string }[] = [];
  const explain = async (statement: string, params: unknown[] = []) => {
    const { rows } = await client.query<{ 'QUERY PLAN': string }>(`explain ${statement}`, params);
    out.push({ statement, plan: rows.map((r) => r['QUERY PLAN']).join('\n') });
  };
  for (const table of [...loadOrder].reverse())
    if (byName.has(table)) await explain(deleteSql(table, byName.get(table)!.deletePredicate!));
  for (const table of loadOrder) {
    const target = targets.get(catalogName(table))!;
    const cols = [...target.columns.values()].filter((c) => !c.generated);
    const overriding = cols.some((c) => c.identityAlways);
    const names = cols.map((c) => c.name);
    await explain(jsonbInsertSql(table, names, overriding), ['[]']);
    // Referential-closure rows: reference data, rows the target holds are kept.
    if (closureCounts.has(table)) await explain(jsonbInsertSql(table, names, overriding, true), ['[]']);
    out.push({
      statement: copySql(table, names),
      plan: '(COPY is not explainable; it appends rows without a plan)',
    });
  }
  return out;
}
