/**
 * The run's database-state snapshots (postgres/db-state/snapshot.ts): one right after the capsule
 * is loaded (and migrated), one after the probes (and the app) have stopped. Together they are the
 * trace's `databaseState`: per table of the capsule, counts and digests of the subject's graph and
 * of the rows outside it. A snapshot that fails never fails the run: its error is recorded and the
 * database-state judge says it could not judge.
 */
import type { CapsuleHeader } from '../capsule/schema.js';
import { errorMessage } from '../errors.js';
import type { Manifest } from '../manifest/schema.js';
import { withClient } from '../postgres/connect.js';
import {
  type DbStateSnapshot,
  type DbStateTableSpec,
  snapshotDatabaseState,
} from '../postgres/db-state/snapshot.js';
import { subjectGraph } from '../postgres/materialize/subject-graph.js';
import type { DatabaseState } from '../trace/schema.js';

export interface DbStateInput {
  manifest: Manifest;
  header: CapsuleHeader;
  /** The capsule's tables (declared and closure-only). */
  capsuleTables: readonly string[];
  databaseUrl: string;
  /** The subject rewrite materialize was given, if any. */
  rewrite?: Record<string, string>;
}

/** The first snapshot, kept by the run until the second. */
export interface DbStateRecorder {
  input: DbStateInput;
  specs: DbStateTableSpec[];
  graph: Record<string, unknown>[];
  first: DbStateSnapshot | { error: string };
}

/** Which tables are recorded, with their predicate and ignored columns (the manifest's rules). */
function dbStateSpecs(manifest: Manifest, capsuleTables: readonly string[]): DbStateTableSpec[] {
  const rules = manifest.databaseState ?? {};
  const ignored = new Set(rules.ignoreTables ?? []);
  const declared = new Map(manifest.postgres.tables.map((t) => [t.name, t]));
  const names = [
    ...manifest.postgres.tables.map((t) => t.name).filter((t) => capsuleTables.includes(t)),
    ...capsuleTables.filter((t) => !declared.has(t)),
  ];
  return names
    .filter((t) => !ignored.has(t))
    .map((name) => ({
      name,
      predicate: declared.get(name)?.deletePredicate ?? null,
      ignoreColumns: (rules.ignoreColumns ?? [])
        .filter((c) => !c.includes('.') || c.startsWith(`${name}.`))
        .map((c) => c.slice(c.indexOf('.') + 1)),
    }));
}

async function take(
  r: Pick<DbStateRecorder, 'input' | 'specs' | 'graph'>,
  since?: string,
): Promise<DbStateSnapshot | { error: string }> {
  try {
    return await withClient(
      r.input.databaseUrl,
      { applicationName: 'replay-env database state', role: 'replay target' },
      (client) =>
        snapshotDatabaseState(client, {
          tables: r.specs,
          subjectKeys: r.input.manifest.subjectKeys,
          graph: r.graph,
          ...(since ? { since } : {}),
        }),
    );
  } catch (err) {
    return { error: errorMessage(err).split('\n')[0]!.slice(0, 300) };
  }
}

/** Right after materialize: the state the probes start from. */
export async function snapshotAfterMaterialize(input: DbStateInput): Promise<DbStateRecorder> {
  const specs = dbStateSpecs(input.manifest, input.capsuleTables);
  const graph = subjectGraph(
    input.manifest,
    input.header,
    input.rewrite ? { rewrite: input.rewrite } : {},
  ).graph;
  const partial = { input, specs, graph };
  return { ...partial, first: await take(partial) };
}

/** After the probes: both snapshots as the trace's `databaseState`. */
export async function snapshotAfterProbes(r: DbStateRecorder): Promise<DatabaseState> {
  const rules = r.input.manifest.databaseState ?? {};
  const base = { ignoredTables: rules.ignoreTables ?? [], ignoredColumns: rules.ignoreColumns ?? [] };
  if ('error' in r.first) return { ...base, tables: [], error: `after materialize: ${r.first.error}` };
  const second = await take(r, r.first.boundary);
  const after = 'error' in second ? null : new Map(second.tables.map((t) => [t.table, t]));
  return {
    ...base,
    tables: r.first.tables.map((t) => {
      const a = after?.get(t.table);
      return {
        table: t.table,
        afterMaterialize: state(t),
        ...(a ? { afterProbes: state(a) } : {}),
      };
    }),
    ...('error' in second ? { error: `after the probes: ${second.error}` } : {}),
  };
}

function state(t: DbStateSnapshot['tables'][number]): DatabaseState['tables'][number]['afterMaterialize'] {
  return { ...(t.missing ? { missing: true } : {}), inGraph: t.inGraph, outside: t.outside };
}
