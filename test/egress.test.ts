/**
 * The outbound-call guard: commands and probes reach the outside world only through the run's
 * proxy; hosts outside egress.allow are denied and every attempt is recorded in the trace.
 */
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadManifest } from '../src/manifest/load.js';
import { hostAllowed } from '../src/run/egress-proxy.js';
import { liveProcesses } from '../src/run/processes.js';
import { runReplay } from '../src/run/replay.js';
import { traceSchema } from '../src/trace/schema.js';
import { toPlain } from '../src/util/exact-json.js';
import {
  baseEnv,
  createFixtureSchema,
  fixtureManifest,
  freePort,
  readPids,
  serverCommand,
  survivors,
  tempDir,
  writeManifest,
} from './fixtures/app/harness.js';
import { useTestDatabase } from './helpers/db.js';

const db = useTestDatabase('egress');
const tmp = tempDir();
const hasCurl = (() => {
  try {
    execFileSync('curl', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

beforeAll(async () => {
  await createFixtureSchema(db);
});
afterAll(() => tmp.cleanup());

async function replay(name: string, extra: Record<string, unknown>) {
  const path = writeManifest(tmp.dir, fixtureManifest(extra), `${name}.json`);
  const result = await runReplay({
    manifest: loadManifest(path).manifest,
    manifestPath: path,
    databaseUrl: db.url,
    skipMaterialize: true,
    env: baseEnv(),
    cwd: tmp.dir,
  });
  traceSchema.parse(result.trace);
  expect(liveProcesses()).toEqual([]);
  return result.trace;
}

describe('egress allow patterns', () => {
  it('matches exact hosts, *.suffix subdomains and always allows loopback', () => {
    const allow = ['api.stripe.com', '*.internal.example'];
    expect(hostAllowed('api.stripe.com', allow)).toBe(true);
    expect(hostAllowed('API.Stripe.com', allow)).toBe(true);
    expect(hostAllowed('evil-api.stripe.com', allow)).toBe(false);
    expect(hostAllowed('a.internal.example', allow)).toBe(true);
    expect(hostAllowed('a.b.internal.example', allow)).toBe(true);
    expect(hostAllowed('internal.example', allow)).toBe(false);
    expect(hostAllowed('notinternal.example', allow)).toBe(false);
    expect(hostAllowed('localhost', [])).toBe(true);
    expect(hostAllowed('127.0.0.1', [])).toBe(true);
    expect(hostAllowed('::1', [])).toBe(true);
    expect(hostAllowed('example.com', [])).toBe(false);
  });
});

describe('run: outbound requests', () => {
  it('denies and records the app calling a host outside egress.allow', async () => {
    const port = await freePort();
    const pidFile = join(tmp.dir, 'notify.pid');
    const trace = await replay('notify', {
      commands: [serverCommand(port, pidFile)],
      probes: [{ name: 'notify', kind: 'http', url: `http://127.0.0.1:${port}/api/notify` }],
    });
    const notify = trace.events.find((e) => e.name === 'notify')!;
    expect(toPlain(notify.http!.json)).toEqual({
      attempted: 'api.external.example',
      status: 403,
    });
    expect(trace.outbound).toHaveLength(1);
    expect(trace.outbound[0]).toMatchObject({
      host: 'api.external.example',
      port: 80,
      method: 'GET',
      allowed: false,
      during: 'notify',
    });
    expect(trace.gate.decision).toBe('warn');
    expect(trace.gate.reasons).toEqual([
      '1 outbound attempt(s) denied by the egress guard: api.external.example',
    ]);
    expect(await survivors(readPids(pidFile), 500)).toEqual([]);
  });

  it('denies an http probe to a remote host without sending it', async () => {
    const trace = await replay('probe-remote', {
      probes: [{ name: 'remote', kind: 'http', url: 'https://api.external.example/v1/send', method: 'POST' }],
    });
    expect(trace.events[0]!.ok).toBe(false);
    expect(trace.events[0]!.error).toBe(
      "outbound request to api.external.example denied (not in the manifest's egress.allow)",
    );
    expect(trace.outbound).toMatchObject([
      { host: 'api.external.example', port: 443, method: 'POST', allowed: false, during: 'remote' },
    ]);
  });

  describe.skipIf(!hasCurl)('through curl (honours the proxy variables)', () => {
    it('records denied HTTP and HTTPS CONNECT attempts and forwards allowed ones', async () => {
      const upstream = createServer((_req, res) => res.end('upstream says hi'));
      await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
      const upPort = (upstream.address() as AddressInfo).port;
      try {
        const trace = await replay('curl', {
          egress: { allow: ['*.allowed.example'] },
          probes: [
            {
              name: 'plain',
              kind: 'command',
              command: "curl -sS -o /dev/null -w '%{http_code}' http://api.external.example/",
            },
            {
              name: 'tls',
              kind: 'command',
              command: 'curl -sS https://api.external.example/',
              allowFailure: true,
            },
            {
              name: 'forwarded',
              kind: 'command',
              // Explicitly through the proxy (loopback is otherwise not proxied), as CONNECT.
              command: `curl -sS --noproxy '' -p -x "$HTTP_PROXY" http://localhost:${upPort}/`,
            },
          ],
        });
        const [plain, tls, forwarded] = trace.events;
        expect(plain!.command!.stdoutTail).toBe('403');
        expect(tls!.ok).toBe(false);
        expect(tls!.command!.exitCode).not.toBe(0);
        expect(forwarded!.ok).toBe(true);
        expect(forwarded!.command!.stdoutTail).toBe('upstream says hi');
        expect(trace.outbound.map((o) => [o.host, o.port, o.method, o.allowed, o.during])).toEqual([
          ['api.external.example', 80, 'GET', false, 'plain'],
          ['api.external.example', 443, 'CONNECT', false, 'tls'],
          ['localhost', upPort, 'CONNECT', true, 'forwarded'],
        ]);
      } finally {
        upstream.close();
      }
    });
  });
});
