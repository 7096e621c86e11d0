/**
 * `--dry-run-sql`: the statements materialize would run, built without connecting. Without the
 * target's catalog the load order comes from `tableOrder` alone (omitted tables appended) and COPY
 * values are encoded without column types (so a JSON string in a json/jsonb column is shown as
 * plain text); the live load uses the catalog. Only the first rows of each table are shown.
 * Referential-closure rows (the last n rows of a table, and tables only closure added) are shown
 * as the live load sends them: conflict-tolerant inserts (jsonb) or a stage table (copy).
 */

import type { OpenOptions } from '../../capsule/open.js';
import { SubjectRewriter } from '../../capsule/rewrite.js';
import { indexCapsule } from '../../capsule/rows.js';
import { columnEncodingsOf } from '../../capsule/schema.js';
import type { Manifest } from '../../manifest/schema.js';
import { stringifyExact } from '../../util/exact-json.js';
import { type ColumnCodec, copyLine } from '../copy/copy-encoding.js';
import { checkCapsule } from './check.js';
import { closureOnlyTables, closureRowCount } from './closure-rows.js';
import { materializeOrder, planLoad, schemaSectionForeignKeys } from './load-plan.js';
import type { LoadStrategy } from './load-table.js';
import {
  CLOSURE_STAGE_TABLE,
  copySql,
  createClosureStageSql,
  createGraphSql,
  deleteSql,
  GRAPH_TABLE,
  insertFromClosureStageSql,
  jsonbInsertSql,
  literal,
} from './sql.js';
import { subjectGraph } from './subject-graph.js';

export interface PlanOptions {
  manifest: Manifest;
  capsulePath: string;
  strategy?: LoadStrategy;
  chunkSize?: number;
  rewrite?: Record<string, string>;
  rewriteSource?: string;
  /** Data rows shown per table (default 3). */
  sampleRows?: number;
  open?: OpenOptions;
}

export async function planMaterialization(options: PlanOptions): Promise<string> {
  const strategy = options.strategy ?? 'jsonb';
  const chunkSize = options.chunkSize ?? 1000;
  const sample = options.sampleRows ?? 3;
  const capsule = await indexCapsule(options.capsulePath, options.open);
  try {
    const tables = checkCapsule(options.manifest, capsule, options.capsulePath);
    const keys = options.manifest.subjectKeys;
    const { rewrite, graph } = subjectGraph(options.manifest, capsule.header, options);
    const rewriter = rewrite ? new SubjectRewriter(rewrite) : null;
    const closureOnly = closureOnlyTables(options.manifest, capsule.header, tables);
    const encodings = columnEncodingsOf(capsule.header);
    // The live load's plan (load-plan.ts), with the foreign keys the capsule's schema section
    // records (none without one: the target's catalog is read at load time).
    const order = materializeOrder(
      planLoad({
        manifest: options.manifest,
        closureOnly,
        foreignKeys: schemaSectionForeignKeys(capsule.header.schema),
      }),
      tables,
      capsule.counts,
    ).order;
    const byName = new Map(options.manifest.postgres.tables.map((t) => [t.name, t]));
    const out: string[] = [
      `-- replay-env materialize-postgres --dry-run-sql (strategy ${strategy}, chunk size ${chunkSize})`,
      "-- built without connecting: load order from tableOrder and the capsule schema section's foreign keys (the live load reads the target's);",
      `-- COPY values encoded without the target's column types; at most ${sample} data rows shown per table.`,
    ];
    if (closureOnly.length > 0)
      out.push(
        `-- tables only referential closure added (loaded after their parents, never deleted from): ${closureOnly.join(', ')}`,
      );
    if (rewrite) out.push(`-- subject rewrite: ${describeRewrite(rewrite)}`);
    out.push('begin;', 'set constraints all deferred;', `${createGraphSql(keys)};`);
    out.push(
      `insert into ${GRAPH_TABLE} select * from jsonb_to_recordset(${literal(JSON.stringify(graph))}::jsonb) as g(${keys
        .map((k) => `"${k}" text`)
        .join(', ')});`,
    );
    for (const t of [...order].reverse())
      if (byName.has(t)) out.push(`${deleteSql(t, byName.get(t)!.deletePredicate!)};`);
    for (const t of order) {
      const total = capsule.counts[t] ?? 0;
      if (total === 0) {
        out.push(`-- ${t}: no rows`);
        continue;
      }
      const closureRows = closureRowCount(capsule.header, t, total, options.capsulePath);
      const graphRows = total - closureRows;
      // The first rows of each part: graph rows, then closure rows (the table's last rows), which
      // load first (parents of the graph rows).
      const graphSample: Record<string, unknown>[] = [];
      const closureSample: Record<string, unknown>[] = [];
      let index = 0;
      read: for await (const batch of capsule.rows(t, 1000)) {
        for (const row of batch.rows) {
          if (index < graphRows) {
            if (graphSample.length < sample) graphSample.push(row);
          } else if (closureSample.length < sample) closureSample.push(row);
          index++;
          if (
            graphSample.length >= Math.min(sample, graphRows) &&
            closureSample.length >= Math.min(sample, closureRows)
          )
            break read;
        }
      }
      if (rewriter) for (const r of [...graphSample, ...closureSample]) rewriter.rewriteObject(r);
      if (closureRows > 0) {
        out.push(
          `-- ${t}: ${closureRows} row${closureRows === 1 ? '' : 's'} added by referential closure: reference data, a row the target already holds (any unique key) is kept`,
        );
        renderRows(out, t, closureSample, closureRows, true, strategy, chunkSize, encodings[t]);
      }
      if (graphRows > 0) renderRows(out, t, graphSample, graphRows, false, strategy, chunkSize, encodings[t]);
    }
    out.push(
      '-- then: move owned sequences past the loaded maximum, count (and hash) the graph rows per table',
    );
    out.push('commit;');
    return `${out.join('\n')}\n`;
  } finally {
    await capsule.close();
  }
}

/** One table part's INSERT (jsonb) or COPY (copy) with its sample rows; closure rows conflict-tolerant. */
function renderRows(
  out: string[],
  t: string,
  rows: Record<string, unknown>[],
  total: number,
  closure: boolean,
  strategy: LoadStrategy,
  chunkSize: number,
  /** The capsule's columnEncodings of the table: json/jsonb carried as text are cast from it. */
  encodings: Readonly<Record<string, string>> = {},
): void {
  const columns = Object.keys(rows[0] ?? {});
  const textJson = new Map(
    columns.flatMap((c) => (encodings[c] === 'json' || encodings[c] === 'jsonb' ? [[c, encodings[c]!]] : [])),
  );
  const more = total - rows.length;
  if (strategy === 'copy') {
    if (closure) out.push(`${createClosureStageSql(t, columns)};`);
    out.push(`${copySql(closure ? CLOSURE_STAGE_TABLE : t, columns)};`);
    const codecs: ColumnCodec[] = columns.map((c) => guessCodec(rows, c));
    for (const r of rows) out.push(copyLine(r, columns, codecs).replace(/\n$/, ''));
    out.push('\\.');
    if (more > 0) out.push(`-- … ${more} more rows elided`);
    if (closure)
      out.push(`${insertFromClosureStageSql(t, columns, false)};`, `drop table ${CLOSURE_STAGE_TABLE};`);
  } else {
    const chunks = Math.ceil(total / chunkSize);
    out.push(
      `${jsonbInsertSql(t, columns, false, closure, textJson).replace('$1::jsonb', `${literal(stringifyExact(rows))}::jsonb`)};`,
    );
    if (more > 0)
      out.push(
        `-- … ${more} more rows elided (${chunks} chunk${chunks === 1 ? '' : 's'} of at most ${chunkSize} rows)`,
      );
  }
}

function guessCodec(rows: Record<string, unknown>[], column: string): ColumnCodec {
  const v = rows.find((r) => r[column] !== null && r[column] !== undefined)?.[column];
  if (Array.isArray(v)) return { kind: 'array', element: 'plain', delimiter: ',' };
  if (v && typeof v === 'object' && !('isLosslessNumber' in v)) return { kind: 'json' };
  return { kind: 'plain' };
}

export function describeRewrite(r: { from: Record<string, string>; to: Record<string, string> }): string {
  return Object.keys(r.from)
    .map((k) => `${k}: ${JSON.stringify(r.from[k])} → ${JSON.stringify(r.to[k])}`)
    .join(', ');
}
