/**
 * Assembling trace parts: the capsule summary (never its rows) and the run's own gate.
 */
import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import type { OpenOptions } from '../capsule/open.js';
import { scanCapsule } from '../capsule/reader.js';
import type { CapsuleHeader } from '../capsule/schema.js';
import type { Decision, MaterializationRecord, OutboundAttempt, Trace, TraceEvent } from './schema.js';

export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (d) => h.update(d))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

/** Subject, graph (key + reasons), per-table counts, hash and size: what the trace says about a capsule. */
function capsuleSummary(
  path: string,
  sha256: string,
  header: CapsuleHeader,
  counts: Record<string, number>,
): NonNullable<Trace['capsule']> {
  const graph = header.graph.map((entry) => {
    const key: Record<string, string | null> = {};
    for (const [k, v] of Object.entries(entry)) if (k !== 'reasons') key[k] = v as string | null;
    return { key, reasons: [...entry.reasons] };
  });
  const rewrite = header.materialization?.subjectScopeRewrite;
  return {
    path,
    sha256,
    sizeBytes: statSync(path).size,
    ...(header.integrity?.contentSha256 ? { contentSha256: header.integrity.contentSha256 } : {}),
    ...(header.exportedAt ? { exportedAt: header.exportedAt } : {}),
    app: header.app,
    subject: { ...header.subject },
    redaction: header.redaction,
    graph,
    tables: { ...counts },
    ...(rewrite ? { subjectRewrite: { from: rewrite.from, to: rewrite.to } } : {}),
    ...(header.findings ? { findings: header.findings.length } : {}),
  };
}

export async function describeCapsule(path: string, openOptions: OpenOptions = {}) {
  const scan = await scanCapsule(path, openOptions); // first: a missing/bad capsule is an InputError
  const sha256 = await sha256File(path);
  return { scan, summary: capsuleSummary(path, sha256, scan.header, scan.counts) };
}

/** First line of an error, for gate reasons. */
const firstLine = (s: string | undefined) => (s ?? '').split('\n')[0]!.slice(0, 300);

/** How each kind of trace event is named in reasons and reports. */
export const EVENT_LABEL: Record<TraceEvent['kind'], string> = {
  command: 'command',
  'background-start': 'background command',
  'background-stop': 'background command',
  'probe-http': 'http probe',
  'probe-command': 'command probe',
  'probe-sql': 'sql probe',
  'probe-browser': 'browser probe',
  setup: 'setup command',
  migrate: 'migration',
};

/**
 * The run's own gate: block when materialization or a required step failed (or the run was
 * interrupted); warn for failures that were allowed, skipped steps and denied outbound attempts.
 * The judge applies the loop's full policy on top of this.
 */
export function runGate(input: {
  materialization: MaterializationRecord;
  events: TraceEvent[];
  outbound: OutboundAttempt[];
  skipped: string[];
  aborted: boolean;
}): Trace['gate'] {
  const block: string[] = [];
  const warn: string[] = [];
  if (input.materialization.status === 'failed')
    block.push(`materialization failed: ${firstLine(input.materialization.error)}`);
  if (input.aborted) block.push('the run was interrupted before it finished');
  for (const e of input.events) {
    if (e.ok) continue;
    const line = `${EVENT_LABEL[e.kind]} "${e.name}" failed: ${firstLine(e.error)}`;
    if (e.allowFailure) warn.push(`${line} (allowFailure)`);
    else block.push(line);
  }
  if (input.skipped.length > 0) warn.push(`not run after an earlier failure: ${input.skipped.join(', ')}`);
  const denied = input.outbound.filter((o) => !o.allowed);
  if (denied.length > 0) {
    const hosts = [...new Set(denied.map((o) => o.host))].join(', ');
    warn.push(`${denied.length} outbound attempt(s) denied by the egress guard: ${hosts}`);
  }
  const decision: Decision = block.length > 0 ? 'block' : warn.length > 0 ? 'warn' : 'continue';
  return { decision, reasons: [...block, ...warn] };
}
