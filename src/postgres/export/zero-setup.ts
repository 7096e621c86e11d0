/**
 * What zero-setup replay adds to an export (plugged into exportCapsule's hooks):
 *
 * - `extraRows` (after the graph, before the tables, in the snapshot): referential closure. For
 *   every declared table the foreign-key columns of its exported rows are read server-side as
 *   distinct key tuples (`select distinct row_json->>'col' … from (<the table's export
 *   statement>)`): only keys cross the wire, and they are the source's values, before redaction.
 *   The collector fetches the missing parents recursively. Closure rows are appended AFTER the
 *   exported rows of a declared table; tables the manifest does not declare follow the manifest's
 *   tables. The exporter redacts, scans and hashes them like every other row.
 * - `extraSections` (after the tables): `schema` (DDL of the capsule's tables and their FK
 *   ancestors, see ddl.ts) and `closure` (rows added per table and why, see closure.ts).
 */
import type pg from 'pg';
import type { GraphEntry, Row } from '../../capsule/schema.js';
import type { Manifest, ManifestTable } from '../../manifest/schema.js';
import type { ExactJson } from '../../util/exact-json.js';
import type { ColumnEncodings } from '../copy/column-encoding.js';
import { foreignKeyAncestors, readSchemaSection, type SchemaSection } from '../schema/ddl.js';
import { ClosureCollector, type ClosureConfig, type ClosureSection, closureConfig } from './closure.js';

export interface ExtraRowsContext {
  /** The export connection, inside the snapshot (read only). */
  client: pg.Client;
  manifest: Manifest;
  subject: Record<string, string>;
  graph: GraphEntry[];
  /** The full export statement of a declared table (CTE chain + row query, one text column). */
  tableStatement(table: ManifestTable): Promise<string>;
  /** How the declared tables' rows carry their columns (closure rows must match). */
  encodings: ColumnEncodings;
}

export interface ExtraRows {
  /** Rows appended to declared tables, after their exported rows. */
  append: Map<string, ExactJson[]>;
  /** Tables the manifest does not declare, written after its tables, in this order. */
  tables: [string, ExactJson[]][];
  /** Column encodings of the tables closure added. */
  encodings: ColumnEncodings;
}

export interface ZeroSetupOptions {
  /** Carry the schema (default true). */
  schema?: boolean;
  /** Referential closure (default: the manifest's postgres.closure.enabled, default true). */
  closure?: boolean;
}

export interface ZeroSetupHooks {
  extraRows?: (ctx: ExtraRowsContext) => Promise<ExtraRows>;
  extraSections: (ctx: {
    client: pg.Client;
    tables: { name: string; rows: number }[];
  }) => Promise<Record<string, unknown>>;
  /** After the export: what closure added (null when off). */
  closure(): ClosureSection | null;
}

/** Distinct key tuples of a table's exported rows, read in SQL from its export statement. */
async function exportedKeys(
  client: pg.Client,
  statement: string,
  columns: readonly string[],
): Promise<string[][]> {
  const exprs = columns.map((_, i) => `(s.row_json::jsonb) ->> $${i + 1}`);
  const notNull = exprs.map((e) => `${e} is not null`).join(' and ');
  const r = await client.query<{ k: string[] }>({
    text: `select distinct array[${exprs.join(', ')}] as k from (${statement}) s where ${notNull}`,
    values: [...columns],
  });
  return r.rows.map((x) => x.k);
}

export function zeroSetupHooks(manifest: Manifest, options: ZeroSetupOptions = {}): ZeroSetupHooks {
  const config: ClosureConfig = closureConfig(manifest);
  const closureOn = options.closure ?? config.enabled;
  const declared = manifest.postgres.tables.map((t) => t.name);
  let section: ClosureSection | null = null;

  const extraRows = async (ctx: ExtraRowsContext): Promise<ExtraRows> => {
    const collector = await ClosureCollector.create(ctx.client, declared, config);
    collector.useEncodings(ctx.encodings);
    // Which columns of each declared table matter: FK columns (as a child) and referenced keys (as a parent).
    const columnSets = new Map<string, Set<string>>();
    const want = (table: string, cols: readonly string[]) => {
      if (!declared.includes(table)) return;
      const set = columnSets.get(table) ?? new Set<string>();
      set.add(JSON.stringify(cols));
      columnSets.set(table, set);
    };
    for (const e of collector.followed()) {
      want(e.child, e.columns);
      want(e.parent, e.refColumns);
    }
    for (const table of manifest.postgres.tables) {
      const sets = columnSets.get(table.name);
      if (!sets) continue;
      const statement = await ctx.tableStatement(table);
      for (const s of sets) {
        const cols = JSON.parse(s) as string[];
        for (const tuple of await exportedKeys(ctx.client, statement, cols)) {
          const row: Row = {};
          cols.forEach((c, i) => {
            row[c] = tuple[i]!;
          });
          collector.addRow(table.name, row);
        }
      }
    }
    const result = await collector.resolve(ctx.client);
    section = result.section;
    const append = new Map<string, ExactJson[]>();
    const tables: [string, ExactJson[]][] = [];
    for (const [t, rows] of result.rows) {
      if (declared.includes(t)) append.set(t, rows);
      else tables.push([t, rows]);
    }
    const encodings = Object.fromEntries(tables.map(([t]) => [t, collector.encodings[t] ?? {}]));
    return { append, tables, encodings };
  };

  const extraSections = async (ctx: {
    client: pg.Client;
    tables: { name: string; rows: number }[];
  }): Promise<Record<string, unknown>> => {
    const out: Record<string, unknown> = {};
    if (options.schema ?? true) {
      const inCapsule = ctx.tables.map((t) => t.name);
      // With closure, the schema holds every FK ancestor (empty when no row needed one), so the
      // app's joins work; without it, only the capsule's tables (FKs to others are left out).
      const set = closureOn ? await foreignKeyAncestors(ctx.client, inCapsule, config.exclude) : inCapsule;
      const skipped = new Map((section?.skipped ?? []).map((s) => [`${s.table}/${s.constraint}`, s.reason]));
      const schema: SchemaSection = await readSchemaSection(ctx.client, set, {
        skipForeignKey: (fk) => {
          const why = skipped.get(`${fk.table}/${fk.constraint}`);
          return why ? `not followed by referential closure (${why})` : null;
        },
      });
      out.schema = schema;
    }
    if (section) out.closure = section;
    return out;
  };

  return {
    ...(closureOn ? { extraRows } : {}),
    extraSections,
    closure: () => section,
  };
}
