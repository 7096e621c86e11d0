/**
 * What broke, without a golden: each failing step of the trace (materialization, a command, a
 * probe) with what was expected and what happened — a status code, an exit code, an SQL error
 * class — so a first-time user sees `http probe "account": expected status 200, got 500` and not
 * only "a required probe failed". Only outcomes built by the tool are shown (never error text that
 * may quote a URL with a subject id or a capsule value); names come from the manifest and are
 * escaped by the renderers.
 */

import type { Manifest } from '../manifest/schema.js';
import { EVENT_LABEL } from '../trace/build.js';
import type { Trace, TraceEvent } from '../trace/schema.js';
import type { StepFailure } from './schema.js';

/** SQLSTATE classes (PostgreSQL Appendix A) most likely in a replay. */
const SQL_CLASSES: Record<string, string> = {
  '08': 'connection exception',
  '22': 'data exception',
  '23': 'integrity constraint violation',
  '25': 'invalid transaction state',
  '28': 'invalid authorization',
  '3D': 'invalid catalog name',
  '40': 'transaction rollback',
  '42': 'syntax error or access rule violation',
  '53': 'insufficient resources',
  '54': 'program limit exceeded',
  '55': 'object not in prerequisite state',
  '57': 'operator intervention (e.g. statement timeout)',
  P0: 'PL/pgSQL error',
  XX: 'internal error',
};

function sqlStateOf(text: string | undefined): string | undefined {
  return text ? /\[SQLSTATE ([0-9A-Z]{5})[\],]/.exec(text)?.[1] : undefined;
}

function describeSqlState(code: string): string {
  const cls = SQL_CLASSES[code.slice(0, 2)];
  return `SQL error ${code}${cls ? ` (class ${code.slice(0, 2)}: ${cls})` : ''}`;
}

function expectedStatus(manifest: Manifest | undefined, name: string): string {
  const probe = manifest?.probes.find((p) => p.name === name) as { expectStatus?: number } | undefined;
  return probe?.expectStatus !== undefined ? `status ${probe.expectStatus}` : 'status below 400';
}

function exitOutcome(e: TraceEvent): string {
  const c = e.command;
  if (c?.timedOut || /timed out/.test(e.error ?? '')) return 'timed out';
  if (c?.signal) return `killed by ${c.signal}`;
  if (c && c.exitCode !== null) return `exit code ${c.exitCode}`;
  if (/could not start/.test(e.error ?? '')) return 'could not start';
  if (/never became ready/.test(e.error ?? '')) return 'never became ready';
  if (/exited on its own/.test(e.error ?? '')) return 'exited before the end of the run';
  return 'failed';
}

function browserOutcome(e: TraceEvent): string {
  const err = e.error ?? '';
  const status = /the page answered (\d{3})/.exec(err)?.[1];
  if (status) return `status ${status}`;
  if (/did not appear/.test(err)) return 'the awaited selector did not appear';
  const consoles = /logged (\d+) console error/.exec(err)?.[1];
  if (consoles) return `${consoles} console error(s)`;
  if (/denied/.test(err)) return 'an outbound request was denied';
  if (/Chromium|chromium/.test(err)) return 'no browser available';
  return 'failed to load';
}

function httpOutcome(e: TraceEvent): string {
  if (e.http?.status !== null && e.http?.status !== undefined) return `status ${e.http.status}`;
  const err = e.error ?? '';
  if (/denied/.test(err)) return 'the request was denied (egress)';
  if (/no response within/.test(err)) return 'no response (timeout)';
  if (/not a valid URL/.test(err)) return 'not a valid URL';
  return 'no response';
}

function eventFailure(e: TraceEvent, manifest: Manifest | undefined): StepFailure {
  const step = `${EVENT_LABEL[e.kind]} "${e.name}"`;
  const name = e.name;
  switch (e.kind) {
    case 'probe-http':
      return { step, name, expected: expectedStatus(manifest, e.name), actual: httpOutcome(e) };
    case 'probe-sql': {
      const code = sqlStateOf(e.error);
      return {
        step,
        name,
        expected: 'the query succeeds',
        actual: code
          ? describeSqlState(code)
          : /read-only query/.test(e.error ?? '')
            ? 'not a read-only query'
            : 'query failed',
      };
    }
    case 'probe-browser':
      return { step, name, expected: 'the page loads without errors', actual: browserOutcome(e) };
    case 'background-start':
      return { step, name, expected: 'ready', actual: exitOutcome(e) };
    default:
      return { step, name, expected: 'exit code 0', actual: exitOutcome(e) };
  }
}

/** Failing steps in trace order (allowed failures are left out), at most `max`. */
export function failingSteps(trace: Trace, manifest?: Manifest, max = 1_000): StepFailure[] {
  const out: StepFailure[] = [];
  const m = trace.materialization;
  if (m.status === 'failed') {
    const code = sqlStateOf(m.error);
    out.push({
      step: m.migration ? `migration "${m.migration.command}"` : 'loading the capsule',
      expected: m.migration ? 'exit code 0' : 'the capsule loads',
      actual: m.migration
        ? m.migration.exitCode === null
          ? 'failed'
          : `exit code ${m.migration.exitCode}`
        : code
          ? describeSqlState(code)
          : 'failed',
    });
  }
  for (const e of trace.events) {
    if (e.ok || e.allowFailure) continue;
    out.push(eventFailure(e, manifest));
    if (out.length >= max) break;
  }
  return out;
}
