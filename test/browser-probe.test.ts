/**
 * The browser probe against the fixture app in the system's headless Chromium. Skipped (with a
 * message) when no Chromium is installed; `.ci/run` installs Debian's `chromium` so CI runs it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadManifest } from '../src/manifest/load.js';
import { CHROMIUM_MISSING, findChromium } from '../src/run/probes/browser.js';
import { liveProcesses } from '../src/run/processes.js';
import { runReplay } from '../src/run/replay.js';
import { readTraceFile } from '../src/trace/read.js';
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

const db = useTestDatabase('browser');
const tmp = tempDir();
const chromium = findChromium(process.env);
if (!chromium)
  console.warn(
    'browser-probe tests skipped: no Chromium found (apt-get install chromium, or set REPLAY_CHROMIUM)',
  );

beforeAll(async () => {
  await createFixtureSchema(db);
});
afterAll(() => tmp.cleanup());

async function replay(name: string, extra: Record<string, unknown>, env: Record<string, string> = {}) {
  const path = writeManifest(tmp.dir, fixtureManifest(extra), `${name}.json`);
  const traceOut = join(tmp.dir, name, 'trace.json');
  await runReplay({
    manifest: loadManifest(path).manifest,
    manifestPath: path,
    databaseUrl: db.url,
    skipMaterialize: true,
    env: baseEnv(env),
    cwd: tmp.dir,
    traceOut,
  });
  expect(liveProcesses()).toEqual([]);
  return { trace: readTraceFile(traceOut), traceOut };
}

describe('browser probe without Chromium', () => {
  it('fails with an error that says how to install Chromium', async () => {
    const { trace } = await replay(
      'nochromium',
      { probes: [{ name: 'page', kind: 'browser', url: 'http://127.0.0.1:9/' }] },
      { REPLAY_CHROMIUM: join(tmp.dir, 'no-such-chromium') },
    );
    expect(trace.events[0]!.ok).toBe(false);
    expect(trace.events[0]!.error).toBe(CHROMIUM_MISSING);
    expect(CHROMIUM_MISSING).toMatch(/apt-get install chromium/);
  });
});

describe.skipIf(!chromium)('browser probe against the fixture app (headless Chromium)', () => {
  it('opens the page, waits for the selector, saves a screenshot and records title and final URL', async () => {
    const port = await freePort();
    const pidFile = join(tmp.dir, 'page.pid');
    const { trace, traceOut } = await replay('page', {
      commands: [serverCommand(port, pidFile)],
      probes: [
        { name: 'timeline page', kind: 'browser', url: `http://127.0.0.1:${port}/`, waitFor: '#timeline' },
      ],
    });
    const e = trace.events.find((x) => x.kind === 'probe-browser')!;
    expect(e.error).toBeUndefined();
    expect(e.ok).toBe(true);
    expect(e.browser).toMatchObject({
      url: `http://127.0.0.1:${port}/`,
      finalUrl: `http://127.0.0.1:${port}/`,
      title: 'Replay fixture',
      consoleErrors: [],
      screenshot: 'artifacts/timeline_page.png',
    });
    expect(trace.artifacts).toEqual([
      { kind: 'screenshot', path: 'artifacts/timeline_page.png', probe: 'timeline page' },
    ]);
    const png = readFileSync(join(traceOut, '..', 'artifacts', 'timeline_page.png'));
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(trace.outbound).toEqual([]);
    expect(trace.gate.decision).toBe('continue');
    expect(await survivors(readPids(pidFile), 500)).toEqual([]);
  });

  it('fails on console errors, records them, and records the page calling a denied host', async () => {
    const port = await freePort();
    const pidFile = join(tmp.dir, 'errors.pid');
    const { trace } = await replay('errors', {
      commands: [serverCommand(port, pidFile)],
      probes: [
        {
          name: 'broken page',
          kind: 'browser',
          url: `http://127.0.0.1:${port}/?consoleError=1&external=1`,
          waitFor: '#timeline',
        },
        {
          name: 'missing selector',
          kind: 'browser',
          url: `http://127.0.0.1:${port}/`,
          waitFor: '#does-not-exist',
          timeoutSeconds: 2,
          allowFailure: true,
        },
      ],
    });
    const [broken, missing] = trace.events.filter((x) => x.kind === 'probe-browser');
    expect(broken!.ok).toBe(false);
    expect(broken!.browser!.consoleErrors).toContain('fixture: something broke on purpose');
    expect(broken!.error).toMatch(/console error/);
    expect(broken!.browser!.failedRequests.some((r) => r.url === 'http://api.external.example/pixel')).toBe(
      true,
    );
    expect(trace.outbound).toContainEqual(
      expect.objectContaining({ host: 'api.external.example', allowed: false, during: 'broken page' }),
    );
    expect(missing!.ok).toBe(false);
    expect(missing!.error).toBe('selector "#does-not-exist" did not appear within 2s');
    expect(missing!.browser!.screenshot).toBe('artifacts/missing_selector.png');
    expect(trace.gate.decision).toBe('block');
    expect(await survivors(readPids(pidFile), 500)).toEqual([]);
  });
});
