/**
 * Writing small capsules for materialize tests, in the exporter's layout (one row per line) or
 * pretty-printed (the original tool's layout), optionally with an integrity record.
 */
import { writeFileSync } from 'node:fs';
import {
  contentHash,
  INTEGRITY_ALGORITHM,
  type IntegrityAlgorithm,
  TableHasher,
} from '../../src/capsule/integrity.js';
import { stringifyExact } from '../../src/util/exact-json.js';

export interface TestCapsule {
  app: string;
  subject: Record<string, string>;
  graph: Record<string, string>[];
  tables: Record<string, Record<string, unknown>[]>;
}

/** The integrity record the exporter would write (default: the algorithm it writes now). */
export function capsuleIntegrity(c: TestCapsule, algorithm: IntegrityAlgorithm = INTEGRITY_ALGORITHM) {
  const tables: Record<string, { rows: number; sha256: string }> = {};
  for (const [name, rows] of Object.entries(c.tables)) {
    const h = TableHasher.for(algorithm);
    for (const r of rows) h.add(r);
    tables[name] = { rows: h.rows, sha256: h.digest() };
  }
  return {
    algorithm,
    exporter: { name: 'test', version: '0' },
    tables,
    // Over the graph as written (writeTestCapsule adds the reasons), as the exporter hashes it.
    contentSha256: contentHash(
      c.subject,
      c.graph.map((g) => ({ ...g, reasons: ['subject'] })),
      tables,
    ),
  };
}

export function writeTestCapsule(
  path: string,
  c: TestCapsule,
  options: { layout?: 'lines' | 'pretty'; integrity?: ReturnType<typeof capsuleIntegrity> } = {},
): void {
  const graph = c.graph.map((g) => ({ ...g, reasons: ['subject'] }));
  const header = {
    schemaVersion: 1,
    app: c.app,
    adapter: 'postgres-subject-graph.v1',
    subject: c.subject,
    graph,
    redaction: 'raw',
  };
  if ((options.layout ?? 'lines') === 'pretty') {
    // The original's order: tables before subject.
    const doc = {
      app: c.app,
      graph,
      tables: c.tables,
      schemaVersion: 1,
      adapter: header.adapter,
      subject: c.subject,
      redaction: header.redaction,
      ...(options.integrity ? { integrity: options.integrity } : {}),
    };
    writeFileSync(path, stringifyExact(doc, 2));
    return;
  }
  const lines: string[] = ['{'];
  for (const [k, v] of Object.entries(header)) lines.push(`${JSON.stringify(k)}:${stringifyExact(v)},`);
  lines.push('"tables":{');
  const names = Object.keys(c.tables);
  names.forEach((name, i) => {
    const rows = c.tables[name]!;
    const comma = i < names.length - 1 ? ',' : '';
    if (rows.length === 0) {
      lines.push(`${JSON.stringify(name)}:[]${comma}`);
      return;
    }
    lines.push(`${JSON.stringify(name)}:[`);
    for (let j = 0; j < rows.length; j++)
      lines.push(`${stringifyExact(rows[j])}${j < rows.length - 1 ? ',' : ''}`);
    lines.push(`]${comma}`);
  });
  lines.push(options.integrity ? '},' : '}');
  if (options.integrity) lines.push(`"integrity":${stringifyExact(options.integrity)}`);
  lines.push('}');
  writeFileSync(path, `${lines.join('\n')}\n`);
}
