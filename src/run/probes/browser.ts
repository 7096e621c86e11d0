/**
 * Browser probe: open a URL in the system's headless Chromium (driven by playwright-core), wait
 * for a selector, save a screenshot, and record console errors, failed requests, final URL and
 * title. playwright-core is imported only when a browser probe runs, so the CLI and the Action
 * start fast without it. The browser's traffic goes through the egress guard.
 */
import { accessSync, constants, mkdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { z } from 'zod';
import type { browserProbeSchema } from '../../manifest/schema.js';
import { isLoopback, startEgressGuard } from '../egress-proxy.js';
import { DEFAULT_PROBE_TIMEOUT_S, type ProbeContext } from './context.js';
import type { ProbeOutcome } from './http.js';

export type BrowserProbe = z.infer<typeof browserProbeSchema>;

export const CHROMIUM_MISSING =
  'no Chromium found for the browser probe: install Chromium: apt-get install chromium (Debian/Ubuntu) or set REPLAY_CHROMIUM to the browser executable';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * REPLAY_CHROMIUM, else Debian's Chromium, else chromium / chromium-browser / google-chrome on PATH.
 * On Debian the real binary is used rather than the /usr/bin/chromium wrapper script: the wrapper
 * exports Google API keys, which make the browser call accounts.google.com on its own.
 */
export function findChromium(env: Record<string, string | undefined>): string | null {
  if (env.REPLAY_CHROMIUM) return executable(env.REPLAY_CHROMIUM) ? env.REPLAY_CHROMIUM : null;
  if (executable('/usr/lib/chromium/chromium')) return '/usr/lib/chromium/chromium';
  if (executable('/usr/bin/chromium')) return '/usr/bin/chromium';
  for (const dir of (env.PATH ?? '').split(delimiter).filter(Boolean))
    for (const name of ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable']) {
      const p = join(dir, name);
      if (executable(p)) return p;
    }
  return null;
}

function fileSafe(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 80) || 'browser';
}

export async function runBrowserProbe(
  probe: BrowserProbe,
  name: string,
  ctx: ProbeContext,
): Promise<ProbeOutcome> {
  const timeoutMs = (probe.timeoutSeconds ?? DEFAULT_PROBE_TIMEOUT_S) * 1000;
  const result: NonNullable<ProbeOutcome['browser']> = {
    url: probe.url,
    consoleErrors: [],
    failedRequests: [],
  };
  const chromiumPath = findChromium(ctx.toolEnv);
  if (!chromiumPath) return { ok: false, error: CHROMIUM_MISSING, browser: result };
  let target: URL;
  try {
    target = new URL(probe.url);
  } catch {
    return { ok: false, error: `not a valid URL: ${probe.url}`, browser: result };
  }
  const host = target.hostname.replace(/^\[|\]$/g, '');
  const port = target.port ? Number(target.port) : target.protocol === 'https:' ? 443 : 80;
  if (!isLoopback(host) && !ctx.guard.check(host, port, 'GET')) {
    return {
      ok: false,
      error: `outbound request to ${host} denied (not in the manifest's egress.allow)`,
      browser: result,
    };
  }

  const { chromium } = await import('playwright-core');
  let browser: Awaited<ReturnType<typeof chromium.launch>> | undefined;
  // The browser gets its own guard, so its attempts can be split afterwards into the page's
  // (hosts the page requested: recorded as the run's outbound attempts) and Chromium's own.
  const browserGuard = await startEgressGuard(ctx.guard.allow);
  const pageHosts = new Set<string>();
  const onAbort = () => void browser?.close().catch(() => {});
  ctx.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    browser = await chromium.launch({
      executablePath: chromiumPath,
      headless: true,
      args: CHROMIUM_ARGS,
      // Loopback stays direct (Chromium's default); everything else goes through the guard.
      proxy: { server: browserGuard.url, bypass: 'localhost,127.0.0.1,[::1]' },
      timeout: timeoutMs,
      // "no" tells Chromium it has no Google API keys: no sign-in or other Google service traffic.
      env: {
        ...ctx.env,
        GOOGLE_API_KEY: 'no',
        GOOGLE_DEFAULT_CLIENT_ID: 'no',
        GOOGLE_DEFAULT_CLIENT_SECRET: 'no',
      },
    });
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('request', (req) => {
      try {
        pageHosts.add(new URL(req.url()).hostname.replace(/^\[|\]$/g, '').toLowerCase());
      } catch {
        // data: and other URLs without a host
      }
    });
    // The browser's own favicon request is not the app's doing: a missing favicon is not an error.
    const isFavicon = (url: string) => /\/favicon\.ico(\?|$)/.test(url);
    page.on('console', (msg) => {
      if (msg.type() === 'error' && !isFavicon(msg.location().url))
        result.consoleErrors.push(ctx.mask(msg.text()));
    });
    page.on('pageerror', (err) => result.consoleErrors.push(ctx.mask(`uncaught: ${err.message}`)));
    page.on('requestfailed', (req) => {
      if (!isFavicon(req.url()))
        result.failedRequests.push({
          url: ctx.mask(req.url()),
          failure: req.failure()?.errorText ?? 'failed',
        });
    });
    page.on('response', (res) => {
      if (res.status() >= 400 && !isFavicon(res.url()))
        result.failedRequests.push({ url: ctx.mask(res.url()), failure: `HTTP ${res.status()}` });
    });
    let error: string | undefined;
    try {
      const response = await page.goto(probe.url, { waitUntil: 'load', timeout: timeoutMs });
      if (response && response.status() >= 400) error = `the page answered ${response.status()}`;
      if (!error && probe.waitFor) {
        await page.waitForSelector(probe.waitFor, { timeout: timeoutMs }).catch(() => {
          error = `selector ${JSON.stringify(probe.waitFor)} did not appear within ${timeoutMs / 1000}s`;
        });
      }
    } catch (err) {
      error = `could not open ${probe.url}: ${(err as Error).message.split('\n')[0]}`;
    }
    result.finalUrl = ctx.mask(page.url());
    result.title = ctx.mask(await page.title().catch(() => ''));
    mkdirSync(ctx.artifactsDir, { recursive: true });
    const shot = join(ctx.artifactsDir, `${fileSafe(name)}.png`);
    try {
      await page.screenshot({ path: shot, fullPage: true, timeout: timeoutMs });
      result.screenshot = shot;
    } catch (err) {
      error ??= `screenshot failed: ${(err as Error).message.split('\n')[0]}`;
    }
    if (!error && probe.failOnConsoleError !== false && result.consoleErrors.length > 0)
      error = `the page logged ${result.consoleErrors.length} console error(s): ${result.consoleErrors[0]}`;
    return error ? { ok: false, error, browser: result } : { ok: true, browser: result };
  } catch (err) {
    const msg = (err as Error).message.split('\n')[0] ?? String(err);
    return { ok: false, error: `browser probe failed: ${msg}`, browser: result };
  } finally {
    ctx.signal?.removeEventListener('abort', onAbort);
    await browser?.close().catch(() => {});
    await browserGuard.close();
    const own: NonNullable<typeof result.browserTraffic> = [];
    for (const a of browserGuard.attempts) {
      if (pageHosts.has(a.host.toLowerCase())) ctx.guard.attempts.push({ ...a, during: name });
      else own.push({ host: a.host, port: a.port, allowed: a.allowed });
    }
    if (own.length > 0) result.browserTraffic = own;
  }
}
