/**
 * The outbound-call guard: a local forward proxy (plain HTTP proxy requests and HTTPS `CONNECT`)
 * on 127.0.0.1. Commands and probes are pointed at it through the proxy environment variables;
 * every attempt is recorded (host, port, method, allowed, when, during which step), and hosts not
 * in `egress.allow` get a 403 without any connection being made.
 *
 * Limits (documented in docs/run.md): a program that ignores the proxy variables is not covered,
 * and for HTTPS only the CONNECT host is seen — the encrypted contents are not inspected.
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import type { OutboundAttempt } from '../trace/schema.js';

export interface EgressGuard {
  /** The allow list this guard enforces. */
  allow: readonly string[];
  port: number;
  url: string;
  attempts: OutboundAttempt[];
  /** Name of the step now running, recorded with each attempt. */
  setDuring(name: string | undefined): void;
  /** Checks (and records) an attempt made by the run itself, e.g. an http probe to a remote URL. */
  check(host: string, port: number, method: string): boolean;
  /** The proxy environment variables to give commands. */
  env(): Record<string, string>;
  close(): Promise<void>;
}

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return (
    h === 'localhost' ||
    h.endsWith('.localhost') ||
    h === '::1' ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) ||
    /^::ffff:127\./.test(h)
  );
}

/** `example.com` matches exactly; `*.example.com` matches any subdomain (not the apex); `*` matches all. */
export function hostAllowed(host: string, allow: readonly string[]): boolean {
  const h = host
    .replace(/^\[|\]$/g, '')
    .toLowerCase()
    .replace(/\.$/, '');
  if (isLoopback(h)) return true;
  return allow.some((pattern) => {
    const p = pattern.toLowerCase().trim();
    if (p === '*') return true;
    if (p.startsWith('*.')) return h.endsWith(p.slice(1));
    return h === p;
  });
}

/** Splits "host:port" (with [v6] brackets) into parts. */
function splitHostPort(authority: string, defaultPort: number): { host: string; port: number } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(authority) ?? /^([^:]+)(?::(\d+))?$/.exec(authority);
  if (!m) return { host: authority, port: defaultPort };
  return { host: m[1]!, port: m[2] ? Number(m[2]) : defaultPort };
}

export async function startEgressGuard(allow: readonly string[]): Promise<EgressGuard> {
  const attempts: OutboundAttempt[] = [];
  let during: string | undefined;
  const sockets = new Set<Socket>();

  const record = (host: string, port: number, method: string): boolean => {
    const allowed = hostAllowed(host, allow);
    attempts.push({
      host,
      port,
      method,
      allowed,
      at: new Date().toISOString(),
      ...(during ? { during } : {}),
    });
    return allowed;
  };

  const deny = (host: string) =>
    `replay-env: outbound request to ${host} denied (not in the manifest's egress.allow)\n`;

  const server: Server = createServer((req: IncomingMessage, res) => {
    // A proxy request carries an absolute URL: GET http://host/path HTTP/1.1
    let target: URL;
    try {
      target = new URL(req.url ?? '');
    } catch {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('replay-env proxy: absolute URL expected\n');
      return;
    }
    const port = target.port ? Number(target.port) : target.protocol === 'https:' ? 443 : 80;
    const host = target.hostname.replace(/^\[|\]$/g, '');
    if (!record(host, port, req.method ?? 'GET')) {
      res.writeHead(403, { 'content-type': 'text/plain' }).end(deny(host));
      req.resume();
      return;
    }
    const headers = { ...req.headers };
    delete headers['proxy-connection'];
    delete headers['proxy-authorization'];
    const upstream = httpRequest(
      { host, port, method: req.method, path: `${target.pathname}${target.search}`, headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`replay-env proxy: ${err.message}\n`);
    });
    req.pipe(upstream);
  });

  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => {});
    const { host, port } = splitHostPort(req.url ?? '', 443);
    if (!record(host, port, 'CONNECT')) {
      client.end(`HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\n\r\n${deny(host)}`);
      return;
    }
    const upstream = netConnect(port, host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', (err) => {
      if (!client.destroyed) client.end(`HTTP/1.1 502 Bad Gateway\r\n\r\n${err.message}\n`);
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const url = `http://127.0.0.1:${port}`;

  return {
    allow,
    port,
    url,
    attempts,
    setDuring(name) {
      during = name;
    },
    check: record,
    env() {
      const noProxy = 'localhost,127.0.0.1,::1';
      return {
        HTTP_PROXY: url,
        HTTPS_PROXY: url,
        ALL_PROXY: url,
        http_proxy: url,
        https_proxy: url,
        all_proxy: url,
        NO_PROXY: noProxy,
        no_proxy: noProxy,
      };
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
