/**
 * Maps stage results to the CLI's --json documents (shapes in json-outputs.ts): per-table rows as
 * `tables: [{name, rows, …}]`, closure as `[{name, rows, …}] | null`, the graph as `{subjects}`.
 */
import { closureRows } from '../capsule/inspect.js';
import type { ClosureSection } from '../postgres/export/closure.js';
import type { ExportResult } from '../postgres/export/export-capsule.js';
import type { MaterializeResult } from '../postgres/materialize/materialize-capsule.js';

const byName = <T extends { name: string }>(a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
const sumRows = (tables: { rows: number }[]) => tables.reduce((n, t) => n + t.rows, 0);

/** export-postgres --json, without warnings/encryptedTo (the command adds those). */
export function exportJson(r: ExportResult, closure: ClosureSection | null, schema: boolean) {
  const tables = Object.entries(r.counts)
    .map(([name, rows]) => ({ name, rows }))
    .sort(byName);
  const { tables: _perTable, version: _v, ...closureDetails } = closure ?? ({} as Partial<ClosureSection>);
  return {
    path: r.path,
    bytes: r.bytes,
    sha256: r.sha256,
    gzip: r.gzip,
    encrypted: r.encrypted,
    app: r.app,
    redaction: r.redaction,
    exportedAt: r.exportedAt,
    window: r.window,
    subject: r.subject,
    graph: { subjects: r.graph.length },
    tables,
    totalRows: sumRows(tables),
    closure: closure ? (closureRows(closure) ?? []).sort(byName) : null,
    closureDetails: closure ? closureDetails : null,
    findings: r.findings,
    integrity: r.integrity,
    timings: r.timings,
    schema,
  };
}

/**
 * materialize-postgres --json: the stage's result with `tables` (load stats keyed `table`) and
 * `closure` (a report object) replaced by the shared shapes; `counts` (the trace's shape) stays.
 */
export function materializeJson(r: MaterializeResult) {
  const loaded = new Map(r.tables.map((t) => [t.table, t]));
  const tables = r.counts
    .map((c) => {
      const stats = loaded.get(c.table);
      return {
        name: c.table,
        rows: c.database ?? stats?.rows ?? 0,
        capsule: c.capsule,
        database: c.database,
        hashMatch: c.hashMatch ?? null,
        ...(stats ? { ms: stats.ms, rowsPerSec: stats.rowsPerSec, strategy: stats.strategy } : {}),
      };
    })
    .sort(byName);
  const closure = r.closure
    ? r.closure.tables
        .map((t) => ({ name: t.table, rows: t.rows, alreadyPresent: t.alreadyPresent, check: t.check }))
        .sort(byName)
    : null;
  return {
    ...r,
    tables,
    totalRows: sumRows(tables),
    closure,
    closureDetails: r.closure ? { rows: r.closure.rows, alreadyPresent: r.closure.alreadyPresent } : null,
  };
}
