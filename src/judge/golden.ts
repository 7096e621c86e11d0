/**
 * Golden traces: a blessed run's probe results, normalised, in small sorted-key JSON meant to be
 * committed and reviewed.
 *
 *   { kind: "replay-env.golden", schemaVersion: 1, app, scenario,
 *     provenance: { tool, toolVersion, gitCommit, capsuleSha256, createdAt, sourceTrace, secondTrace?,
 *                   capsule?: { sha256, contentSha256?, subjectFingerprint, exportedAt? } },
 *     noise: ["$.probes.timeline.json.generatedAt", …],   learned from two traces of one build
 *     durations: { totalMs, probes: { name: ms }, spread? },   spread: learned from two traces
 *     commands: { name: { ok, exitCode } },
 *     probes: { name: { kind, ok, status?, exitCode?, json?, text?, headers?, stdout?, sql?,
 *                       consoleErrors?, screenshot? } } }
 *
 * Files: `<golden dir>/<scenario or "default">.golden.json`; screenshots are copied beside it into
 * `<scenario or "default">.screenshots/<probe>.png`.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { z } from 'zod';
import { InputError } from '../errors.js';
import type { Trace, TraceEvent } from '../trace/schema.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { isLosslessNumber, isPlainObject, parseExact, stringifyExact, toPlain } from '../util/exact-json.js';
import { parseJsonText, readTextFile } from '../util/json-file.js';
import { scenarioIdSchema } from '../util/scenario-id.js';
import { invalidFile, issueLines } from '../util/zod-issues.js';
import { capsuleIdentity } from './capsule-binding.js';
import { databaseRecords, dbRecordsSchema } from './db-records.js';
import { copyScreenshotInto, goldenFileIn, traceScreenshot } from './golden-paths.js';
import { Normalizer } from './normalize.js';
import { learnSpread } from './timing.js';

const GOLDEN_SCHEMA_VERSION = 1;

const goldenProbeSchema = z.object({
  kind: z.enum(['http', 'command', 'sql', 'browser']),
  ok: z.boolean(),
  status: z.number().int().nullable().optional(),
  exitCode: z.number().int().nullable().optional(),
  json: z.unknown().optional(),
  text: z.string().optional(),
  headers: z.record(z.string(), z.string()).optional(),
  stdout: z.string().optional(),
  sql: z
    .object({
      columns: z.array(z.string()),
      rows: z.array(z.array(z.unknown())),
      ordered: z.boolean(),
      truncated: z.boolean().optional(),
    })
    .optional(),
  consoleErrors: z.array(z.string()).optional(),
  /** Relative to the golden file. */
  screenshot: z.string().optional(),
});

const goldenSchema = z.object({
  kind: z.literal('replay-env.golden'),
  schemaVersion: z.literal(GOLDEN_SCHEMA_VERSION),
  app: z.string(),
  scenario: scenarioIdSchema.optional(),
  provenance: z.object({
    tool: z.string(),
    toolVersion: z.string(),
    gitCommit: z.string().nullable(),
    capsuleSha256: z.string().nullable(),
    /** The capsule this golden judged (judge/capsule-binding.ts); absent in older goldens. */
    capsule: z
      .object({
        sha256: z.string(),
        contentSha256: z.string().optional(),
        subjectFingerprint: z.string(),
        exportedAt: z.string().optional(),
      })
      .optional(),
    createdAt: z.string(),
    sourceTrace: z.string().nullable(),
    secondTrace: z.string().nullable().optional(),
  }),
  noise: z.array(z.string()).default([]),
  durations: z.object({
    totalMs: z.number().nonnegative(),
    probes: z.record(z.string(), z.number().nonnegative()),
    /** How far the two blessed runs differed (learned with --second-trace): the timing noise. */
    spread: z
      .object({ totalMs: z.number().nonnegative(), probes: z.record(z.string(), z.number().nonnegative()) })
      .optional(),
  }),
  commands: z.record(
    z.string(),
    z.object({ ok: z.boolean(), exitCode: z.number().int().nullable().optional() }),
  ),
  probes: z.record(z.string(), goldenProbeSchema),
  /** What the blessed run changed in the database, per table (db-records.ts); absent in older goldens. */
  database: dbRecordsSchema.optional(),
});

export type Golden = z.infer<typeof goldenSchema>;
export type ProbeRecord = z.infer<typeof goldenProbeSchema>;

export interface LoadedGolden {
  golden: Golden;
  /** Absolute path of the golden file. */
  path: string;
  /** The file as written (for annotation line numbers). */
  text?: string;
}

/** The golden file of a scenario: refused when the id is not a scenario id or leads out of `dir`. */
export function goldenPathFor(dir: string, scenario?: string): string {
  return goldenFileIn(dir, scenario);
}

function probeKind(kind: TraceEvent['kind']): ProbeRecord['kind'] | null {
  switch (kind) {
    case 'probe-http':
      return 'http';
    case 'probe-command':
      return 'command';
    case 'probe-sql':
      return 'sql';
    case 'probe-browser':
      return 'browser';
    default:
      return null;
  }
}

const COMMAND_KINDS = new Set<TraceEvent['kind']>(['command', 'setup', 'migrate']);

/** A unique key per event name (a repeated name gets "#2", "#3"…). */
function uniqueName(seen: Map<string, number>, name: string): string {
  const n = (seen.get(name) ?? 0) + 1;
  seen.set(name, n);
  return n === 1 ? name : `${name}#${n}`;
}

export interface TraceRecords {
  probes: Record<string, ProbeRecord>;
  commands: Record<string, { ok: boolean; exitCode?: number | null }>;
  durations: { totalMs: number; probes: Record<string, number> };
  /** Screenshot path per probe as written in the trace (relative to the trace file). */
  screenshots: Record<string, string>;
}

/** The comparable part of a trace, NOT yet normalised. */
export function traceRecords(trace: Trace): TraceRecords {
  const probes: Record<string, ProbeRecord> = {};
  const commands: TraceRecords['commands'] = {};
  const probeDurations: Record<string, number> = {};
  const screenshots: Record<string, string> = {};
  const seenP = new Map<string, number>();
  const seenC = new Map<string, number>();
  for (const e of trace.events) {
    const kind = probeKind(e.kind);
    if (kind === null) {
      if (COMMAND_KINDS.has(e.kind)) {
        const name = uniqueName(seenC, e.kind === 'command' ? e.name : `${e.kind}:${e.name}`);
        commands[name] = { ok: e.ok, exitCode: e.command?.exitCode ?? null };
      }
      continue;
    }
    const name = uniqueName(seenP, e.name);
    probeDurations[name] = e.durationMs;
    const r: ProbeRecord = { kind, ok: e.ok };
    if (e.http) {
      r.status = e.http.status;
      if (e.http.json !== undefined) r.json = e.http.json;
      else if (e.http.text !== undefined) r.text = e.http.text;
      if (e.http.headers && Object.keys(e.http.headers).length) r.headers = { ...e.http.headers };
    }
    if (e.command) {
      r.exitCode = e.command.exitCode;
      if (e.command.stdoutTail !== undefined) r.stdout = e.command.stdoutTail;
    }
    if (e.sql) {
      r.sql = { columns: [...e.sql.columns], rows: e.sql.rows, ordered: e.sql.ordered === true };
      if (e.sql.truncated) r.sql.truncated = true;
    }
    if (e.browser) {
      r.consoleErrors = [...e.browser.consoleErrors];
      if (e.browser.screenshot) screenshots[name] = e.browser.screenshot;
    }
    probes[name] = r;
  }
  return { probes, commands, durations: { totalMs: trace.durationMs, probes: probeDurations }, screenshots };
}

/** Normalises probe records with ONE normaliser in sorted probe order (ids numbered document-wide). */
export function normaliseProbes(probes: Record<string, ProbeRecord>): Record<string, ProbeRecord> {
  const n = new Normalizer();
  const out: Record<string, ProbeRecord> = {};
  for (const name of Object.keys(probes).sort()) {
    const p = probes[name]!;
    const r: ProbeRecord = { ...p };
    if (p.json !== undefined) r.json = n.value(p.json);
    if (p.text !== undefined) r.text = n.string(p.text);
    if (p.headers) r.headers = n.value(p.headers) as Record<string, string>;
    if (p.stdout !== undefined) r.stdout = n.string(p.stdout);
    if (p.sql) r.sql = { ...p.sql, rows: n.value(p.sql.rows) as unknown[][] };
    if (p.consoleErrors) r.consoleErrors = p.consoleErrors.map((e) => n.string(e));
    out[name] = r;
  }
  return out;
}

/** Deep copy with object keys sorted (arrays keep their order): stable, diff-friendly files. */
export function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (isPlainObject(v)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const x = v[k];
      if (x !== undefined) out[k] = sortKeys(x);
    }
    return out;
  }
  return v;
}

export function goldenText(golden: Golden): string {
  return `${stringifyExact(sortKeys(golden), 2)}\n`;
}

/**
 * Converts exact-parsed JSON to plain values except inside payloads (response bodies and rows,
 * whose numbers stay exact), so the zod schemas (plain numbers) can validate the rest.
 */
function plainExceptPayloads(
  v: unknown,
  isPayload: (path: string[]) => boolean,
  path: string[] = [],
): unknown {
  if (isPayload(path)) return v;
  if (isLosslessNumber(v)) return toPlain(v);
  if (Array.isArray(v)) return v.map((x, i) => plainExceptPayloads(x, isPayload, [...path, String(i)]));
  if (isPlainObject(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = plainExceptPayloads(x, isPayload, [...path, k]);
    return out;
  }
  return v;
}

const goldenPayload = (p: string[]) =>
  (p.length === 3 && p[0] === 'probes' && p[2] === 'json') ||
  (p.length === 4 && p[0] === 'probes' && p[2] === 'sql' && p[3] === 'rows');

export function readGolden(path: string): LoadedGolden {
  const text = readTextFile(path, 'golden trace');
  const raw = plainExceptPayloads(parseJsonText(text, path, parseExact), goldenPayload);
  const r = goldenSchema.safeParse(raw);
  if (!r.success) throw invalidFile(path, 'golden trace', issueLines(r.error));
  return { golden: r.data, path: resolve(path), text };
}

/** The golden for a scenario in a directory, or null when there is none. */
export function findGolden(dir: string, scenario?: string): LoadedGolden | null {
  const path = goldenPathFor(dir, scenario);
  return existsSync(path) ? readGolden(path) : null;
}

export interface BuildGoldenInput {
  trace: Trace;
  tracePath?: string;
  scenario?: string;
  noise?: string[];
  secondTracePath?: string;
  /** The second trace's durations: their difference is the learned timing spread. */
  secondDurations?: { totalMs: number; probes: Record<string, number> };
  now?: Date;
}

/** The golden document for a trace (screenshots not yet copied: see writeGolden). */
export function buildGolden(input: BuildGoldenInput): {
  golden: Golden;
  screenshots: Record<string, string>;
} {
  const { trace } = input;
  const rec = traceRecords(trace);
  const identity = capsuleIdentity(trace);
  const database = databaseRecords(trace.databaseState);
  const golden: Golden = {
    kind: 'replay-env.golden',
    schemaVersion: GOLDEN_SCHEMA_VERSION,
    app: trace.app,
    scenario: input.scenario ?? trace.scenario,
    provenance: {
      tool: trace.environment.tool,
      toolVersion: trace.environment.toolVersion,
      gitCommit: trace.environment.gitCommit,
      capsuleSha256: trace.capsule?.sha256 ?? null,
      ...(identity ? { capsule: identity } : {}),
      createdAt: (input.now ?? new Date()).toISOString(),
      sourceTrace: input.tracePath ? basename(input.tracePath) : null,
      ...(input.secondTracePath ? { secondTrace: basename(input.secondTracePath) } : {}),
    },
    noise: [...new Set(input.noise ?? [])].sort(),
    durations: input.secondDurations
      ? { ...rec.durations, spread: learnSpread(rec.durations, input.secondDurations) }
      : rec.durations,
    commands: rec.commands,
    probes: normaliseProbes(rec.probes),
    ...(database ? { database } : {}),
  };
  return { golden, screenshots: rec.screenshots };
}

/**
 * Writes the golden (atomically: temp file + rename) and copies screenshots beside it.
 * Returns the file path and notes (e.g. a screenshot file that was missing).
 */
export function writeGolden(
  dir: string,
  built: { golden: Golden; screenshots: Record<string, string> },
  tracePath: string | undefined,
): { path: string; notes: string[] } {
  const notes: string[] = [];
  const path = goldenPathFor(dir, built.golden.scenario);
  const shotDirName = `${built.golden.scenario ?? 'default'}.screenshots`;
  const copies: [string, string][] = [];
  for (const [probe, rel] of Object.entries(built.screenshots)) {
    const p = built.golden.probes[probe];
    if (!p) continue;
    const src = traceScreenshot(tracePath, probe, rel);
    if (src === null) {
      notes.push(`screenshot of probe ${probe} not found at ${rel}; the golden has none for it`);
      continue;
    }
    const target = `${shotDirName}/${probe.replace(/[^A-Za-z0-9._-]/g, '_')}.png`;
    copies.push([src, target]);
    p.screenshot = target;
  }
  // Validate before writing anything.
  const checked = goldenSchema.safeParse(built.golden);
  if (!checked.success)
    throw new InputError(`golden would be invalid: ${issueLines(checked.error).join('; ')}`);
  mkdirSync(dir, { recursive: true });
  if (copies.length) mkdirSync(join(dir, shotDirName), { recursive: true });
  for (const [src, target] of copies) copyScreenshotInto(dir, src, target);
  writeFileAtomic(path, goldenText(built.golden), 'golden');
  return { path, notes };
}
