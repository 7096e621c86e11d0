/**
 * HTTP probe: one request (with retries), recording status, chosen headers and the body — parsed
 * exactly when it is JSON, else a bounded text tail. A request to a non-loopback host goes through
 * the egress guard's allow list like any command's request would.
 */
import type { z } from 'zod';
import type { httpProbeSchema } from '../../manifest/schema.js';
import type { TraceEvent } from '../../trace/schema.js';
import { parseExact } from '../../util/exact-json.js';
import { isLoopback } from '../egress-proxy.js';
import { maskDeep } from '../mask.js';
import { sleep } from '../processes.js';
import { DEFAULT_PROBE_TIMEOUT_S, type ProbeContext } from './context.js';

export type HttpProbe = z.infer<typeof httpProbeSchema>;
export type ProbeOutcome = Pick<TraceEvent, 'ok' | 'error' | 'http' | 'command' | 'sql' | 'browser'>;

const TEXT_TAIL = 4000;
const MAX_BODY = 5 * 1024 * 1024;
const RETRY_DELAY_MS = 500;

async function readBounded(res: Response): Promise<{ text: string; truncated: boolean }> {
  if (!res.body) return { text: '', truncated: false };
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
    if (size > MAX_BODY) {
      truncated = true;
      await reader.cancel().catch(() => {});
      break;
    }
  }
  return { text: Buffer.concat(chunks).toString('utf8'), truncated };
}

function requestBody(probe: HttpProbe, headers: Record<string, string>): string | undefined {
  if (probe.body === undefined) return undefined;
  if (typeof probe.body === 'string') return probe.body;
  if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type'))
    headers['content-type'] = 'application/json';
  return JSON.stringify(probe.body);
}

export async function runHttpProbe(probe: HttpProbe, ctx: ProbeContext): Promise<ProbeOutcome> {
  const method = (probe.method ?? 'GET').toUpperCase();
  const timeoutMs = (probe.timeoutSeconds ?? DEFAULT_PROBE_TIMEOUT_S) * 1000;
  let url: URL;
  try {
    url = new URL(probe.url);
  } catch {
    return {
      ok: false,
      error: `not a valid URL: ${probe.url}`,
      http: { method, url: probe.url, status: null },
    };
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  if (!isLoopback(host) && !ctx.guard.check(host, port, method)) {
    return {
      ok: false,
      error: `outbound request to ${host} denied (not in the manifest's egress.allow)`,
      http: { method, url: probe.url, status: null },
    };
  }
  const headers: Record<string, string> = { ...(probe.headers ?? {}) };
  const body = requestBody(probe, headers);
  const attemptsAllowed = (probe.retries ?? 0) + 1;
  let lastError = '';
  let attempts = 0;
  let result: NonNullable<TraceEvent['http']> = { method, url: probe.url, status: null };
  for (; attempts < attemptsAllowed; ) {
    attempts++;
    if (ctx.signal?.aborted) return { ok: false, error: 'the run was aborted', http: result };
    try {
      const res = await fetch(url, {
        method,
        headers,
        body,
        redirect: 'manual',
        signal: ctx.signal
          ? AbortSignal.any([ctx.signal, AbortSignal.timeout(timeoutMs)])
          : AbortSignal.timeout(timeoutMs),
      });
      const { text, truncated } = await readBounded(res);
      result = { method, url: probe.url, status: res.status, attempts };
      if (probe.recordHeaders?.length) {
        const recorded: Record<string, string> = {};
        for (const name of probe.recordHeaders) {
          const v = res.headers.get(name);
          if (v !== null) recorded[name.toLowerCase()] = v;
        }
        result.headers = recorded;
      }
      const contentType = res.headers.get('content-type') ?? '';
      let parsed = false;
      if (!truncated && (/json/i.test(contentType) || /^\s*[[{]/.test(text))) {
        try {
          result.json = maskDeep(parseExact(text), ctx.mask, true);
          parsed = true;
        } catch {
          // not JSON after all: recorded as text below
        }
      }
      if (!parsed && text.length > 0) result.text = ctx.mask(text.slice(-TEXT_TAIL));
      const ok = probe.expectStatus !== undefined ? res.status === probe.expectStatus : res.status < 400;
      if (ok) return { ok: true, http: result };
      lastError =
        probe.expectStatus !== undefined
          ? `expected status ${probe.expectStatus}, got ${res.status}`
          : `status ${res.status}`;
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      lastError =
        e.name === 'TimeoutError'
          ? `no response within ${timeoutMs / 1000}s`
          : (e.cause?.code ?? e.cause?.message ?? e.message);
      result = { method, url: probe.url, status: null, attempts };
    }
    if (attempts < attemptsAllowed) await sleep(RETRY_DELAY_MS);
  }
  return { ok: false, error: `${method} ${probe.url}: ${lastError}`, http: result };
}
