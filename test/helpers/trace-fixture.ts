/**
 * Hand-written traces for judge/gate/bless tests. `goodTrace()` is a complete, valid trace of a
 * healthy replay (validated by the real trace schema); tests copy it and change one thing.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { type DatabaseState, type Trace, type TraceEvent, traceSchema } from '../../src/trace/schema.js';

export const USER_ID = '6f1c2b1e-8a4b-4c1d-9e2f-0a1b2c3d4e5f';
export const PEER_ID = '0b7e9c52-3d1a-4f6b-8c2d-9e8f7a6b5c4d';
export const POST_ID = '01HZX3K5M7N9P1Q3R5S7T9V1W3';

function http(name: string, url: string, json: unknown, status = 200, durationMs = 40): TraceEvent {
  return {
    name,
    kind: 'probe-http',
    ok: status < 400,
    startedAt: '2025-03-01T10:00:01.000Z',
    durationMs,
    http: { method: 'GET', url, status, json },
  };
}

export function goodTrace(): Trace {
  const trace = {
    schemaVersion: 1,
    kind: 'replay-env.trace',
    app: 'socialnotes',
    scenario: 'subject-graph-materializes',
    startedAt: '2025-03-01T10:00:00.000Z',
    finishedAt: '2025-03-01T10:00:05.000Z',
    durationMs: 5000,
    capsule: {
      path: 'capsules/u1.json',
      sha256: 'a'.repeat(64),
      sizeBytes: 1234,
      app: 'socialnotes',
      subject: { tenant_id: 't1', user_id: 'u1' },
      redaction: 'safe',
      graph: [
        { key: { tenant_id: 't1', user_id: 'u1' }, reasons: ['subject'] },
        { key: { tenant_id: 't1', user_id: 'u7' }, reasons: ['chat_recipient'] },
      ],
      tables: { users: 2, posts: 3, messages: 4 },
    },
    materialization: {
      status: 'ok',
      strategy: 'copy',
      durationMs: 120,
      counts: [
        { table: 'users', capsule: 2, database: 2, hashMatch: true },
        { table: 'posts', capsule: 3, database: 3, hashMatch: true },
        { table: 'messages', capsule: 4, database: 4, hashMatch: true },
      ],
    },
    events: [
      {
        name: 'server',
        kind: 'background-start',
        ok: true,
        startedAt: '2025-03-01T10:00:00.500Z',
        durationMs: 300,
      },
      {
        name: 'unit',
        kind: 'command',
        ok: true,
        startedAt: '2025-03-01T10:00:00.800Z',
        durationMs: 900,
        command: { command: 'npm test', exitCode: 0, stdoutTail: 'all tests passed' },
      },
      http('health', 'http://localhost:3000/health', { ok: true, checkedAt: '2025-03-01T10:00:01.123Z' }),
      http('me', 'http://localhost:3000/api/me', {
        id: USER_ID,
        name: 'Ada',
        createdAt: '2024-01-02T03:04:05Z',
        followers: 7,
      }),
      http('timeline', 'http://localhost:3000/api/timeline', {
        owner: USER_ID,
        generatedAt: '2025-03-01T10:00:01.456Z',
        items: [
          { id: POST_ID, author: USER_ID, text: 'hello', likes: 2 },
          { id: '01HZX3K5M7N9P1Q3R5S7T9V1W4', author: PEER_ID, text: 'hi back', likes: 0 },
        ],
      }),
      {
        name: 'version',
        kind: 'probe-command',
        ok: true,
        startedAt: '2025-03-01T10:00:01.900Z',
        durationMs: 30,
        command: { command: 'node cli.js --version', exitCode: 0, stdoutTail: 'socialnotes 1.2.3\n' },
      },
      {
        name: 'posts',
        kind: 'probe-sql',
        ok: true,
        startedAt: '2025-03-01T10:00:02.000Z',
        durationMs: 10,
        sql: {
          query: 'select id, title from posts',
          columns: ['id', 'title'],
          rows: [
            [1, 'first'],
            [2, 'second'],
            [3, 'third'],
          ],
          rowCount: 3,
          truncated: false,
          ordered: false,
        },
      },
      {
        name: 'home',
        kind: 'probe-browser',
        ok: true,
        startedAt: '2025-03-01T10:00:03.000Z',
        durationMs: 800,
        browser: {
          url: 'http://localhost:3000/',
          title: 'Home',
          consoleErrors: [],
          failedRequests: [],
        },
      },
    ],
    outbound: [
      { host: 'localhost', port: 3000, method: 'GET', allowed: true, at: '2025-03-01T10:00:01.000Z' },
    ],
    artifacts: [],
    environment: {
      tool: 'replay-env',
      toolVersion: '0.4.0',
      node: 'v20.0.0',
      postgres: '17.2',
      gitCommit: '0123456789abcdef0123456789abcdef01234567',
      platform: 'linux-x64',
    },
    gate: { decision: 'continue', reasons: [] },
  };
  return traceSchema.parse(trace);
}

/** A deep copy of the good trace, changed by `edit`, and re-validated. */
export function traceWith(edit: (t: Trace) => void, base: Trace = goodTrace()): Trace {
  const t = structuredClone(base);
  edit(t);
  return traceSchema.parse(t);
}

/** [rows after materialize, rows after the probes, rows written]; `content`: other values, same counts. */
type SideSpec = [number, number, number, string?];

/**
 * A trace's databaseState from counts: a side's digest changes when its rows or written rows do
 * (or with a `content` tag), as the real snapshots' would.
 */
export function dbState(
  tables: Record<string, { inGraph?: SideSpec; outside?: SideSpec }>,
  ignored: Partial<Pick<DatabaseState, 'ignoredTables' | 'ignoredColumns'>> = {},
): DatabaseState {
  const side = ([before, after, written, content]: SideSpec = [1, 1, 0]) => {
    const changed = before !== after || written > 0 || content !== undefined;
    return {
      before: { rows: before, digest: `d${before}` },
      after: {
        rows: after,
        digest: changed ? `d${before}-${after}-${written}-${content ?? ''}` : `d${before}`,
        written,
      },
    };
  };
  return {
    ignoredTables: ignored.ignoredTables ?? [],
    ignoredColumns: ignored.ignoredColumns ?? [],
    tables: Object.entries(tables).map(([table, t]) => {
      const g = side(t.inGraph);
      const o = side(t.outside);
      return {
        table,
        afterMaterialize: { inGraph: g.before, outside: o.before },
        afterProbes: { inGraph: g.after, outside: o.after },
      };
    }),
  };
}

export function probe(t: Trace, name: string): TraceEvent {
  const e = t.events.find((x) => x.name === name);
  if (!e) throw new Error(`no event ${name} in the fixture trace`);
  return e;
}

/** The JSON body of an HTTP probe, typed loosely for edits. */
// biome-ignore lint/suspicious/noExplicitAny: test fixtures edit arbitrary JSON bodies
export function body(t: Trace, name: string): any {
  return probe(t, name).http!.json;
}

export function writeTrace(dir: string, file: string, trace: Trace): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, file);
  writeFileSync(path, `${JSON.stringify(trace, null, 2)}\n`);
  return path;
}

/** A solid-colour PNG, with an optional block of another colour (size: fraction of the width). */
export function writePng(
  path: string,
  opts: { width?: number; height?: number; block?: number; color?: [number, number, number] } = {},
): void {
  const width = opts.width ?? 40;
  const height = opts.height ?? 30;
  const png = new PNG({ width, height });
  const [r, g, b] = opts.color ?? [255, 255, 255];
  const blockW = Math.round((opts.block ?? 0) * width);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      const inBlock = x < blockW;
      png.data[i] = inBlock ? 0 : r;
      png.data[i + 1] = inBlock ? 0 : g;
      png.data[i + 2] = inBlock ? 0 : b;
      png.data[i + 3] = 255;
    }
  writeFileSync(path, PNG.sync.write(png));
}
