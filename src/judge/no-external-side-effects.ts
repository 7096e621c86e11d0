/**
 * No external side effects: a denied outbound attempt (a host outside egress.allow) fails; an
 * allowed request that reached a non-local host warns.
 */
import type { OutboundAttempt } from '../trace/schema.js';
import { disabled, type JudgeInput, titleOf } from './context.js';
import type { JudgeResult } from './schema.js';

/**
 * Local: localhost and *.localhost, loopback and unspecified addresses, and single-label names
 * (service containers like "postgres" or "redis" on the job's own network).
 */
function isLocalHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (/^127\.\d+\.\d+\.\d+$/.test(h) || h === '0.0.0.0' || h === '::1' || h === '::') return true;
  if (h === 'host.docker.internal') return true;
  return !h.includes('.') && !h.includes(':');
}

function describe(o: OutboundAttempt): string {
  return `${o.method} ${o.host}:${o.port}${o.during ? ` during ${o.during}` : ''}`;
}

export function outboundFacts(outbound: OutboundAttempt[]) {
  return {
    denied: outbound.filter((o) => !o.allowed),
    external: outbound.filter((o) => o.allowed && !isLocalHost(o.host)),
  };
}

export function judgeNoExternalSideEffects(input: JudgeInput): JudgeResult {
  const id = 'no-external-side-effects';
  const off = disabled(input, id);
  if (off) return off;
  const title = titleOf(input, id);
  const { denied, external } = outboundFacts(input.trace.outbound);
  const total = input.trace.outbound.length;
  const evidence = [`${total} outbound attempt(s) recorded`];
  const list = (xs: OutboundAttempt[], head: string) => {
    const shown = xs.slice(0, 20).map((o) => `${head}: ${describe(o)}`);
    if (xs.length > 20) shown.push(`… and ${xs.length - 20} more`);
    return shown;
  };
  if (denied.length)
    return {
      id,
      title,
      verdict: 'fail',
      summary: `${denied.length} attempt(s) to reach a host outside egress.allow`,
      evidence: [...evidence, ...list(denied, 'denied'), ...list(external, 'allowed, external')],
    };
  if (external.length)
    return {
      id,
      title,
      verdict: 'warn',
      summary: `${external.length} allowed request(s) reached a non-local host`,
      evidence: [...evidence, ...list(external, 'allowed, external')],
    };
  return {
    id,
    title,
    verdict: 'pass',
    summary: total ? 'only local hosts were reached' : 'no outbound attempts',
    evidence,
  };
}
