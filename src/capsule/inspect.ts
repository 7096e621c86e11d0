/**
 * `inspect`: what a capsule holds, from one streaming pass (header + per-table counts, rows are
 * never built) while the file's bytes are hashed in parallel. Works on any capsule size.
 */

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { InputError } from '../errors.js';
import { requireRegularFile } from '../util/input-file-kind.js';
import { detectEncoding, type OpenOptions } from './open.js';
import { scanCapsule } from './reader.js';
import type { CapsuleHeader } from './schema.js';
import { redactionWasAssumed } from './schema.js';

interface GraphSubject {
  key: Record<string, string | null>;
  reasons: string[];
}

export interface CapsuleInspection {
  file: { path: string; bytes: number; sha256: string; encoding: 'json' | 'gzip' | 'encrypted' };
  app: string;
  adapter: string;
  schemaVersion: number;
  exportedAt: string | null;
  window: { sinceDays: number | null; sinceAt: string | null } | null;
  /** In the capsule's key order (the original wrote jsonb order). */
  subject: Record<string, string>;
  redaction: 'safe' | 'raw';
  /** The capsule has no `redaction`: read as raw (capsule/schema.ts assumeRedaction). */
  redactionAssumed: boolean;
  subjectRewrite: { from: Record<string, string>; to: Record<string, string>; at: string } | null;
  graph: { subjects: number; entries: GraphSubject[] };
  /** Alphabetical by table name. */
  tables: { name: string; rows: number }[];
  totalRows: number;
  /** Rows added by referential closure, per table (null when the capsule has no closure record). */
  closure: { name: string; rows: number; reasons?: Record<string, number> }[] | null;
  findings: number;
  integrity: { present: boolean; algorithm: string | null; contentSha256: string | null };
  source: Record<string, unknown> | null;
}

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export async function inspectCapsule(path: string, options: OpenOptions = {}): Promise<CapsuleInspection> {
  let bytes: number;
  try {
    const st = await stat(path);
    requireRegularFile(path, st, 'capsule');
    bytes = st.size;
  } catch (err) {
    if (err instanceof InputError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new InputError(
      code === 'ENOENT'
        ? `${path}: capsule not found`
        : `${path}: cannot read capsule (${(err as Error).message})`,
    );
  }
  const encoding = await detectEncoding(path);
  // Hash the raw bytes while the reader streams the same file.
  const [scan, sha256] = await Promise.all([scanCapsule(path, options), sha256OfFile(path)]);
  const { header, counts } = scan;
  const tables = Object.entries(counts)
    .map(([name, rows]) => ({ name, rows }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return {
    file: { path, bytes, sha256, encoding },
    app: header.app,
    adapter: header.adapter,
    schemaVersion: header.schemaVersion,
    exportedAt: header.exportedAt ?? null,
    window: header.window
      ? { sinceDays: header.window.sinceDays ?? null, sinceAt: header.window.sinceAt ?? null }
      : null,
    subject: header.subject,
    redaction: header.redaction,
    redactionAssumed: redactionWasAssumed(header),
    subjectRewrite: header.materialization?.subjectScopeRewrite ?? null,
    graph: { subjects: header.graph.length, entries: graphEntries(header) },
    tables,
    totalRows: tables.reduce((n, t) => n + t.rows, 0),
    closure: closureRows(header.closure),
    findings: header.findings?.length ?? 0,
    integrity: {
      present: header.integrity !== undefined,
      algorithm: header.integrity?.algorithm ?? null,
      contentSha256: header.integrity?.contentSha256 ?? null,
    },
    source: (header.source as Record<string, unknown> | undefined) ?? null,
  };
}

/** Each graph entry's key columns in the subject's key order (then any others), and its reasons. */
function graphEntries(header: CapsuleHeader): GraphSubject[] {
  const order = Object.keys(header.subject);
  return header.graph.map((entry) => {
    const keys = [
      ...order.filter((k) => k in entry),
      ...Object.keys(entry).filter((k) => k !== 'reasons' && !order.includes(k)),
    ];
    const key: Record<string, string | null> = {};
    for (const k of keys) key[k] = (entry as Record<string, string | null>)[k] ?? null;
    return { key, reasons: entry.reasons };
  });
}

/**
 * Closure rows per table. Accepts `{table: n}`, `{table: {rows: n}}`, `{table: {reason: n}}`, each
 * optionally under a `tables` key, so inspect keeps working while the closure record evolves.
 */
export function closureRows(
  closure: unknown,
): { name: string; rows: number; reasons?: Record<string, number> }[] | null {
  if (!closure || typeof closure !== 'object' || Array.isArray(closure)) return null;
  const obj = closure as Record<string, unknown>;
  const src =
    obj.tables && typeof obj.tables === 'object' && !Array.isArray(obj.tables)
      ? (obj.tables as Record<string, unknown>)
      : obj;
  const out: { name: string; rows: number; reasons?: Record<string, number> }[] = [];
  const count = (v: unknown): number | null => {
    if (typeof v === 'number') return v;
    if (Array.isArray(v)) return v.length;
    if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      for (const k of ['rows', 'count', 'added']) if (typeof o[k] === 'number') return o[k] as number;
      let sum = 0;
      let any = false;
      for (const x of Object.values(o)) {
        const n = count(x);
        if (n !== null) {
          sum += n;
          any = true;
        }
      }
      return any ? sum : null;
    }
    return null;
  };
  for (const [name, v] of Object.entries(src)) {
    const n = count(v);
    // Why the rows were added (closure.ts writes {rows, reasons: {"fk:<constraint>": n}}).
    const reasons = (v as { reasons?: unknown } | null)?.reasons;
    const why =
      reasons && typeof reasons === 'object' && !Array.isArray(reasons)
        ? Object.fromEntries(
            Object.entries(reasons as Record<string, unknown>).filter(
              (e): e is [string, number] => typeof e[1] === 'number',
            ),
          )
        : null;
    if (n !== null) out.push({ name, rows: n, ...(why ? { reasons: why } : {}) });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

const pairs = (o: Record<string, string | null>) =>
  Object.entries(o)
    .map(([k, v]) => `${k}=${v ?? 'null'}`)
    .join(', ');

/** Text form; the first lines match the original tool's `inspect` output. */
export function formatInspection(r: CapsuleInspection, maxSubjects = 50): string {
  const lines: string[] = [];
  lines.push(`app: ${r.app}`);
  lines.push(`adapter: ${r.adapter}`);
  lines.push(`subject: ${pairs(r.subject)}`);
  lines.push(`redaction: ${r.redaction}${r.redactionAssumed ? ' (assumed: the capsule does not say)' : ''}`);
  lines.push(`graph subjects: ${r.graph.subjects}`);
  lines.push('tables:');
  for (const t of r.tables) lines.push(`  ${t.name}: ${t.rows}`);
  lines.push(`total rows: ${r.totalRows}`);
  lines.push(`schemaVersion: ${r.schemaVersion}`);
  lines.push(`exportedAt: ${r.exportedAt ?? '(not recorded)'}`);
  if (r.window)
    lines.push(`window: ${r.window.sinceDays ?? '?'} days (since ${r.window.sinceAt ?? '(not recorded)'})`);
  else lines.push('window: (not recorded)');
  if (r.subjectRewrite)
    lines.push(
      `subject rewrite: ${pairs(r.subjectRewrite.from)} -> ${pairs(r.subjectRewrite.to)} (at ${r.subjectRewrite.at})`,
    );
  else lines.push('subject rewrite: none');
  lines.push('graph:');
  for (const e of r.graph.entries.slice(0, maxSubjects))
    lines.push(`  ${pairs(e.key)}: ${e.reasons.join(', ')}`);
  if (r.graph.entries.length > maxSubjects)
    lines.push(`  … and ${r.graph.entries.length - maxSubjects} more`);
  if (r.closure) {
    lines.push('closure rows:');
    if (r.closure.length === 0) lines.push('  (none)');
    for (const t of r.closure)
      lines.push(
        `  ${t.name}: ${t.rows}${
          t.reasons
            ? ` (${Object.entries(t.reasons)
                .map(([k, n]) => `${k}: ${n}`)
                .join(', ')})`
            : ''
        }`,
      );
  }
  lines.push(`findings: ${r.findings}`);
  lines.push(
    r.integrity.present
      ? `integrity: present (${r.integrity.algorithm}, content sha256 ${r.integrity.contentSha256})`
      : 'integrity: none',
  );
  lines.push(
    `file: ${r.file.path} (${r.file.bytes} bytes${r.file.encoding === 'json' ? '' : `, ${r.file.encoding}`})`,
  );
  lines.push(`sha256: ${r.file.sha256}`);
  return `${lines.join('\n')}\n`;
}
