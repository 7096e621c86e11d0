/**
 * Referential closure: the parent rows the exported rows point at through foreign keys, so the
 * capsule loads into an empty schema with every foreign key enforced.
 *
 * While the exporter streams rows it hands each one to `collector.addRow(table, row)`, which keeps
 * only the distinct foreign-key tuples not yet covered by an exported row (bounded by the cap).
 * `collector.resolve(client)` then fetches the missing parents from the source, in the export's
 * snapshot, following the parents' own foreign keys recursively (also into tables the manifest
 * does not declare), and returns the rows per table plus why each was added (`fk:<constraint>`).
 *
 * Opt-outs: `postgres.closure.enabled: false` (no closure), `postgres.closure.exclude` (tables
 * never pulled in), `tables[].closure: false` (do not follow that table's foreign keys).
 * Values are bound as parameters (`unnest($1::text[])` cast to the key columns' types).
 */
import type pg from 'pg';
import type { Row } from '../../capsule/schema.js';
import { FailureError } from '../../errors.js';
import type { Manifest } from '../../manifest/schema.js';
import { type ExactJson, isLosslessNumber, parseExact, stringifyExact } from '../../util/exact-json.js';
import { quoteIdent, quoteQualified } from '../../util/sql-names.js';
import { describePgError } from '../connect.js';
import {
  type ColumnEncoding,
  type ColumnEncodings,
  encodedRowSql,
  relationEncodings,
  TypeClassifier,
} from '../copy/column-encoding.js';
import { type ForeignKeyEdge, readForeignKeyEdges, resolveTables } from '../schema/ddl.js';

const DEFAULT_CLOSURE_MAX_ROWS = 100_000;
const CLOSURE_SECTION_VERSION = 1;
/** Key tuples fetched per statement. */
const FETCH_CHUNK = 5000;

export interface ClosureConfig {
  enabled: boolean;
  maxRows: number;
  /** Tables never pulled in by closure. */
  exclude: ReadonlySet<string>;
  /** Tables whose foreign keys are not followed (`tables[].closure: false`). */
  noFollow: ReadonlySet<string>;
}

export function closureConfig(manifest: Manifest): ClosureConfig {
  const c = manifest.postgres.closure;
  return {
    enabled: c?.enabled ?? true,
    maxRows: c?.maxRows ?? DEFAULT_CLOSURE_MAX_ROWS,
    exclude: new Set(c?.exclude ?? []),
    noFollow: new Set(manifest.postgres.tables.filter((t) => t.closure === false).map((t) => t.name)),
  };
}

/** The capsule's `closure` key. */
export interface ClosureSection {
  version: typeof CLOSURE_SECTION_VERSION;
  maxRows: number;
  /** Rows added per table, and the foreign keys that pulled them in (a row may count for several). */
  tables: Record<string, { rows: number; reasons: Record<string, number> }>;
  totalRows: number;
  /** Tables the manifest does not declare that closure added (with their DDL in `schema`). */
  addedTables: string[];
  /** Foreign keys not followed, and why. */
  skipped: { constraint: string; table: string; references: string; reason: string }[];
  /** Referenced keys with no parent row in the source (dangling references; not loadable with FKs on). */
  missing: Record<string, number>;
}

export interface ClosureResult {
  section: ClosureSection;
  /** Rows to add per table (exact values), in discovery order (load order comes from the schema section). */
  rows: Map<string, Row[]>;
}

/** A key tuple as text, the form that is bound and cast back to the column types. */
function keyText(v: ExactJson | undefined): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (isLosslessNumber(v)) return v.toString();
  return stringifyExact(v);
}

function tupleOf(row: Row, columns: readonly string[]): string[] | null {
  const out: string[] = [];
  for (const c of columns) {
    const t = keyText(row[c]);
    if (t === null) return null; // MATCH SIMPLE: a null column means no reference
    out.push(t);
  }
  return out;
}

const keyOf = (tuple: readonly string[]) => JSON.stringify(tuple);
const targetOf = (table: string, columns: readonly string[]) => `${table}(${columns.join(',')})`;

interface Target {
  table: string;
  columns: string[];
  types: string[];
  /** Keys present in the capsule (exported or already added). */
  present: Set<string>;
  /** Keys wanted and not present: key -> constraints that want it. */
  wanted: Map<string, Set<string>>;
}

export class ClosureCollector {
  private readonly edgesByChild = new Map<string, ForeignKeyEdge[]>();
  /** Parent tables -> the key column lists FKs point at. */
  private readonly targetsByTable = new Map<string, Target[]>();
  private readonly targets = new Map<string, Target>();
  private readonly skipped: ClosureSection['skipped'] = [];
  private readonly declared: ReadonlySet<string>;
  /**
   * Columns carried as text (capsule `columnEncodings`) per table: given for the declared tables
   * (their rows' encoding), read from the catalog for tables closure adds.
   */
  readonly encodings: ColumnEncodings = {};
  private classifier: TypeClassifier | null = null;

  private constructor(
    private readonly config: ClosureConfig,
    declared: readonly string[],
  ) {
    this.declared = new Set(declared);
  }

  /**
   * Reads the foreign keys reachable from the exported tables. Call inside the export snapshot.
   * `tables` are the manifest's table names (as in the capsule).
   */
  static async create(
    client: pg.Client,
    tables: readonly string[],
    config: ClosureConfig,
  ): Promise<ClosureCollector> {
    const c = new ClosureCollector(config, tables);
    const resolved = await resolveTables(client, tables);
    const names = new Map<number, string>();
    for (const [name, r] of resolved) names.set(r.oid, name);
    let frontier = [...names.keys()];
    while (frontier.length > 0) {
      const edges = await readForeignKeyEdges(client, frontier);
      frontier = [];
      for (const e of edges) {
        const child = names.get(e.childOid) ?? e.child;
        const parent = names.get(e.parentOid) ?? e.parent;
        const edge = { ...e, child, parent };
        if (config.noFollow.has(child)) {
          c.skipped.push({
            constraint: e.constraint,
            table: child,
            references: parent,
            reason: 'tables[].closure is false',
          });
          continue;
        }
        if (config.exclude.has(parent)) {
          c.skipped.push({
            constraint: e.constraint,
            table: child,
            references: parent,
            reason: 'postgres.closure.exclude',
          });
          continue;
        }
        const list = c.edgesByChild.get(child) ?? [];
        list.push(edge);
        c.edgesByChild.set(child, list);
        c.targetFor(edge);
        if (!names.has(e.parentOid)) {
          names.set(e.parentOid, parent);
          frontier.push(e.parentOid);
        }
      }
    }
    return c;
  }

  private targetFor(e: ForeignKeyEdge): Target {
    const id = targetOf(e.parent, e.refColumns);
    let t = this.targets.get(id);
    if (!t) {
      t = {
        table: e.parent,
        columns: e.refColumns,
        types: e.refTypes,
        present: new Set(),
        wanted: new Map(),
      };
      this.targets.set(id, t);
      const list = this.targetsByTable.get(e.parent) ?? [];
      list.push(t);
      this.targetsByTable.set(e.parent, list);
    }
    return t;
  }

  /** Foreign keys followed, by child table (for diagnostics and tests). */
  followed(): ForeignKeyEdge[] {
    return [...this.edgesByChild.values()].flat();
  }

  private wantedCount(): number {
    let n = 0;
    for (const t of this.targets.values()) n += t.wanted.size;
    return n;
  }

  /** Record one exported row (before redaction: keys must be the source's values). */
  addRow(table: string, row: Row): void {
    // As a parent: the keys it provides.
    for (const t of this.targetsByTable.get(table) ?? []) {
      const tuple = tupleOf(row, t.columns);
      if (!tuple) continue;
      const k = keyOf(tuple);
      t.present.add(k);
      t.wanted.delete(k);
    }
    // As a child: the keys it needs.
    for (const e of this.edgesByChild.get(table) ?? []) {
      const tuple = tupleOf(row, e.columns);
      if (!tuple) continue;
      const t = this.targetFor(e);
      const k = keyOf(tuple);
      if (t.present.has(k)) continue;
      const reasons = t.wanted.get(k);
      if (reasons) reasons.add(e.constraint);
      else {
        t.wanted.set(k, new Set([e.constraint]));
        // Keys into tables that are not exported can only become closure rows: stop early.
        if (!this.declared.has(t.table) && this.wantedCount() > this.config.maxRows) this.tooMany(0);
      }
    }
  }

  private tooMany(added: number): never {
    const parts = [...this.targets.values()]
      .filter((t) => t.wanted.size > 0)
      .map((t) => `${t.table} ${t.wanted.size}`);
    throw new FailureError(
      `referential closure would add more than ${this.config.maxRows} rows (added ${added}, still needed: ${parts.join(', ')}); raise postgres.closure.maxRows, list tables in postgres.closure.exclude, set closure: false on the tables whose foreign keys should not be followed, or set postgres.closure.enabled: false`,
    );
  }

  /** Fetch the missing parents, recursively. Call inside the export snapshot. */
  async resolve(client: pg.Client): Promise<ClosureResult> {
    const rows = new Map<string, Row[]>();
    const stats: ClosureSection['tables'] = {};
    const missing: Record<string, number> = {};
    let added = 0;
    for (;;) {
      const pending = [...this.targets.values()].filter((t) => t.wanted.size > 0);
      if (pending.length === 0) break;
      if (added + this.wantedCount() > this.config.maxRows) this.tooMany(added);
      for (const t of pending) {
        const wanted = t.wanted;
        t.wanted = new Map();
        const keys = [...wanted.keys()];
        for (const k of keys) t.present.add(k);
        for (let i = 0; i < keys.length; i += FETCH_CHUNK) {
          const chunk = keys.slice(i, i + FETCH_CHUNK).map((k) => JSON.parse(k) as string[]);
          const fetched = await this.fetch(client, t, chunk);
          const found = new Set<string>();
          for (const row of fetched) {
            const tuple = tupleOf(row, t.columns);
            const k = tuple ? keyOf(tuple) : null;
            if (k && found.has(k)) continue;
            if (k) found.add(k);
            const list = rows.get(t.table) ?? [];
            list.push(row);
            rows.set(t.table, list);
            added++;
            stats[t.table] ??= { rows: 0, reasons: {} };
            const s = stats[t.table]!;
            s.rows++;
            for (const c of (k && wanted.get(k)) || [])
              s.reasons[`fk:${c}`] = (s.reasons[`fk:${c}`] ?? 0) + 1;
            // The new row provides keys and needs parents of its own.
            this.addRow(t.table, row);
          }
          const lost = chunk.length - found.size;
          if (lost > 0)
            missing[targetOf(t.table, t.columns)] = (missing[targetOf(t.table, t.columns)] ?? 0) + lost;
        }
      }
      if (added > this.config.maxRows) this.tooMany(added);
    }
    const order = [...rows.keys()];
    return {
      rows,
      section: {
        version: CLOSURE_SECTION_VERSION,
        maxRows: this.config.maxRows,
        tables: Object.fromEntries(order.map((t) => [t, stats[t]!])),
        totalRows: added,
        addedTables: order.filter((t) => !this.declared.has(t)),
        skipped: this.skipped,
        missing,
      },
    };
  }

  /** Declared tables' encodings (how their exported rows are written); call before `resolve`. */
  useEncodings(encodings: ColumnEncodings): void {
    for (const t of this.declared) this.encodings[t] = encodings[t] ?? {};
  }

  private async encodingsOf(client: pg.Client, table: string): Promise<Record<string, ColumnEncoding>> {
    const known = this.encodings[table];
    if (known) return known;
    this.classifier ??= new TypeClassifier(client);
    const enc = await relationEncodings(
      client,
      this.classifier,
      `select p.* from ${quoteQualified(table)} p limit 0`,
    );
    this.encodings[table] = enc;
    return enc;
  }

  private async fetch(client: pg.Client, t: Target, tuples: string[][]): Promise<Row[]> {
    const cols = t.columns.map(quoteIdent);
    const arrays = t.columns.map((_, i) => tuples.map((tu) => tu[i]!));
    const unnest = t.columns.map((_, i) => `$${i + 1}::text[]`).join(', ');
    const casts = t.columns.map((_, i) => `x.c${i}::${t.types[i]}`).join(', ');
    const names = t.columns.map((_, i) => `c${i}`).join(', ');
    const sql = (row: string) => `select ${row}::text as j from ${quoteQualified(t.table)} p
      where (${cols.map((c) => `p.${c}`).join(', ')}) in (select ${casts} from unnest(${unnest}) as x(${names}))`;
    try {
      const row = encodedRowSql('p', await this.encodingsOf(client, t.table));
      const res = await client.query<{ j: string }>(sql(row), arrays);
      return res.rows.map((r) => parseExact(r.j) as Row);
    } catch (err) {
      throw new FailureError(
        `referential closure: reading parents from ${t.table} failed: ${describePgError(err)}`,
        {
          cause: err,
        },
      );
    }
  }
}
