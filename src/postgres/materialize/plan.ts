/**
 * `--dry-run-sql`: the statements materialize would run, built without connecting. Without the
 * target's catalog the load order comes from `tableOrder` alone (omitted tables appended) and COPY
 * values are encoded without column types (so a JSON string in a json/jsonb column is shown as
 * plain text); the live load uses the catalog. Only the first rows of each table are shown.
 */

import type { OpenOptions } from '../../capsule/open.js';
import { planSubjectRewrite, SubjectRewriter } from '../../capsule/rewrite.js';
import type { Manifest } from '../../manifest/schema.js';
import { stringifyExact } from '../../util/exact-json.js';
import { type ColumnCodec, copyLine } from '../copy-encoding.js';
import { planLoadOrder } from '../load-order.js';
import { indexCapsule } from './capsule-rows.js';
import { checkCapsule } from './check.js';
import type { LoadStrategy } from './load-table.js';
import { copySql, createGraphSql, deleteSql, GRAPH_TABLE, jsonbInsertSql, literal } from './sql.js';

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
    const rewrite = options.rewrite
      ? planSubjectRewrite(keys, capsule.header.subject, options.rewrite, options.rewriteSource)
      : null;
    const rewriter = rewrite ? new SubjectRewriter(rewrite) : null;
    const graph = capsule.header.graph.map((g) => {
      const e: Record<string, unknown> = {};
      for (const k of keys) e[k] = g[k] ?? null;
      return rewriter ? rewriter.rewriteObject(e) : e;
    });
    const order = planLoadOrder({
      declared: options.manifest.postgres.tables.map((t) => t.name),
      tableOrder: options.manifest.postgres.tableOrder,
      foreignKeys: [],
    }).order.filter((t) => tables.includes(t));
    const byName = new Map(options.manifest.postgres.tables.map((t) => [t.name, t]));
    const out: string[] = [
      `-- replay-env materialize-postgres --dry-run-sql (strategy ${strategy}, chunk size ${chunkSize})`,
      '-- built without connecting: load order from tableOrder (foreign keys are read from the target at load time);',
      `-- COPY values encoded without the target's column types; at most ${sample} data rows shown per table.`,
    ];
    if (rewrite) out.push(`-- subject rewrite: ${describeRewrite(rewrite)}`);
    out.push('begin;', 'set constraints all deferred;', `${createGraphSql(keys)};`);
    out.push(
      `insert into ${GRAPH_TABLE} select * from jsonb_to_recordset(${literal(JSON.stringify(graph))}::jsonb) as g(${keys
        .map((k) => `"${k}" text`)
        .join(', ')});`,
    );
    for (const t of [...order].reverse()) out.push(`${deleteSql(t, byName.get(t)!.deletePredicate!)};`);
    for (const t of order) {
      const total = capsule.counts[t] ?? 0;
      if (total === 0) {
        out.push(`-- ${t}: no rows`);
        continue;
      }
      let rows: Record<string, unknown>[] = [];
      for await (const batch of capsule.rows(t, sample)) {
        rows = batch.rows;
        break;
      }
      if (rewriter) for (const r of rows) rewriter.rewriteObject(r);
      const columns = Object.keys(rows[0] ?? {});
      const more = total - rows.length;
      if (strategy === 'copy') {
        out.push(`${copySql(t, columns)};`);
        const codecs: ColumnCodec[] = columns.map((c) => guessCodec(rows, c));
        for (const r of rows) out.push(copyLine(r, columns, codecs).replace(/\n$/, ''));
        out.push('\\.');
        if (more > 0) out.push(`-- … ${more} more rows elided`);
      } else {
        const chunks = Math.ceil(total / chunkSize);
        out.push(
          `${jsonbInsertSql(t, columns, false).replace('$1::jsonb', `${literal(stringifyExact(rows))}::jsonb`)};`,
        );
        if (more > 0)
          out.push(
            `-- … ${more} more rows elided (${chunks} chunk${chunks === 1 ? '' : 's'} of at most ${chunkSize} rows)`,
          );
      }
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
