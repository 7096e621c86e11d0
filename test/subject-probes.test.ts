/**
 * Subject-aware probes: one manifest replays two different customers of the example app, each
 * with their own probe URL, headers, SQL parameters and command arguments; unknown placeholders
 * are a manifest error naming the field; hostile subject values stay data (URL-encoded, bind
 * parameters, one argv entry), never URL structure, SQL text or shell.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadManifest } from '../src/manifest/load.js';
import type { ManifestProbe } from '../src/manifest/schema.js';
import { freePort } from '../src/postgres/embedded.js';
import { exportCapsule } from '../src/postgres/export/export-capsule.js';
import { zeroSetupHooks } from '../src/postgres/export/zero-setup.js';
import { bindProbe, subjectValues } from '../src/run/probe-binding.js';
import { runSqlProbe } from '../src/run/probes/sql.js';
import { cli, REPO_ROOT } from './helpers/cli.js';
import { useTestDatabase } from './helpers/db.js';

const db = useTestDatabase('subject_probes');
const EXAMPLE = join(REPO_ROOT, 'examples/socialapp');
const dir = mkdtempSync(join(tmpdir(), 'replay-subject-probes-'));

const CUSTOMERS = {
  ada: { tenant_id: 'acme', user_id: 'ada' },
  eve: { tenant_id: 'globex', user_id: 'eve' },
};

function writeManifest(name: string, patch: (m: Record<string, unknown>) => void): string {
  const m = JSON.parse(readFileSync(join(REPO_ROOT, 'config/apps/socialapp.json'), 'utf8'));
  m.$schema = undefined;
  m.repoPath = EXAMPLE;
  patch(m);
  const path = join(dir, `${name}.json`);
  writeFileSync(path, JSON.stringify(m, null, 2));
  return path;
}

async function subjectManifest(): Promise<string> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  return writeManifest('subject', (m) => {
    m.commands = [
      {
        name: 'app',
        run: 'node server.mjs',
        background: true,
        env: { PORT: String(port) },
        readyUrl: `${base}/health`,
        readyTimeoutSeconds: 30,
      },
    ];
    m.probes = [
      {
        name: 'private-timeline',
        kind: 'http',
        url: `${base}/api/timeline`,
        headers: { 'x-tenant-id': '{{subject.tenant_id}}', 'x-user-id': '{{subject.user_id}}' },
        expectStatus: 200,
      },
      {
        name: 'timeline-page',
        kind: 'http',
        url: `${base}/?tenant={{subject.tenant_id}}&user={{ subject.user_id }}`,
        expectStatus: 200,
      },
      {
        name: 'me',
        kind: 'sql',
        query:
          "select display_name, '{{not a placeholder in a literal}}' as lit from users where tenant_id = {{subject.tenant_id}} and user_id = {{subject.user_id}}",
      },
      {
        name: 'argv',
        kind: 'command',
        command: 'node',
        args: [
          '-e',
          'process.stdout.write(JSON.stringify(process.argv.slice(1)))',
          '{{capsuleSubject.user_id}}',
        ],
      },
    ];
  });
}

describe('subject-aware probes', () => {
  const capsules: Record<string, string> = {};
  beforeAll(async () => {
    await db.runFile(join(EXAMPLE, 'schema.sql'));
    await db.runFile(join(EXAMPLE, 'seed.sql'));
    const { manifest } = loadManifest(join(REPO_ROOT, 'config/apps/socialapp.json'));
    const hooks = zeroSetupHooks(manifest);
    for (const [name, subject] of Object.entries(CUSTOMERS)) {
      capsules[name] = join(dir, `${name}.capsule.json`);
      await exportCapsule({
        manifest,
        subject,
        databaseUrl: db.url,
        out: capsules[name],
        extraRows: hooks.extraRows,
        extraSections: hooks.extraSections,
      });
    }
  });

  it('one manifest replays two different customers with their own probe URLs', {
    timeout: 120_000,
  }, async () => {
    const manifest = await subjectManifest();
    const seen: Record<
      string,
      {
        name: string;
        http?: { url: string; json?: unknown; text?: string };
        sql?: { rows: unknown[][] };
        command?: { stdoutTail?: string };
      }[]
    > = {};
    for (const name of Object.keys(CUSTOMERS)) {
      const target = await db.create(`sp_${name}`);
      const tracePath = join(dir, `${name}.trace.json`);
      const r = await cli([
        'run',
        '--app',
        manifest,
        '--capsule',
        capsules[name]!,
        '--db-url',
        target,
        '--create-schema',
        '--trace-out',
        tracePath,
      ]);
      expect(r.code, r.stderr + r.stdout).toBe(0);
      seen[name] = JSON.parse(readFileSync(tracePath, 'utf8')).events;
    }
    const probe = (who: string, p: string) => seen[who]!.find((e) => e.name === p)!;
    expect(JSON.stringify(probe('ada', 'private-timeline').http!.json)).toContain('"Ada Lovelace"');
    expect(JSON.stringify(probe('eve', 'private-timeline').http!.json)).toContain('"Eve Noether"');
    expect(JSON.stringify(probe('eve', 'private-timeline').http!.json)).not.toContain('Ada Lovelace');
    expect(probe('ada', 'timeline-page').http!.url).toMatch(/\/\?tenant=acme&user=ada$/);
    expect(probe('eve', 'timeline-page').http!.url).toMatch(/\/\?tenant=globex&user=eve$/);
    expect(probe('eve', 'timeline-page').http!.text).toContain('Eve Noether');
    expect(probe('ada', 'me').sql!.rows).toEqual([['Ada Lovelace', '{{not a placeholder in a literal}}']]);
    expect(probe('eve', 'me').sql!.rows).toEqual([['Eve Noether', '{{not a placeholder in a literal}}']]);
    expect(probe('eve', 'argv').command!.stdoutTail).toBe('["eve"]');
  });

  it('binds the rewritten subject as {{subject.…}} and the exported one as {{capsuleSubject.…}}', {
    timeout: 120_000,
  }, async () => {
    const manifest = await subjectManifest();
    const target = await db.create('sp_local');
    const tracePath = join(dir, 'local.trace.json');
    const r = await cli([
      'run',
      '--app',
      manifest,
      '--capsule',
      capsules.ada!,
      '--db-url',
      target,
      '--create-schema',
      '--use-local-subject',
      '--trace-out',
      tracePath,
    ]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const events = JSON.parse(readFileSync(tracePath, 'utf8')).events as {
      name: string;
      http?: { url: string };
      sql?: { rows: unknown[][] };
      command?: { stdoutTail?: string };
    }[];
    const get = (n: string) => events.find((e) => e.name === n)!;
    expect(get('timeline-page').http!.url).toMatch(/user=local-dev$/);
    expect(get('me').sql!.rows).toEqual([['Ada Lovelace', '{{not a placeholder in a literal}}']]);
    expect(get('argv').command!.stdoutTail).toBe('["ada"]');
  });

  it('refuses unknown placeholders and unsafe places at manifest load, naming the field', async () => {
    const cases: [string, (m: Record<string, unknown>) => void, RegExp][] = [
      [
        'unknown-key',
        (m) => {
          m.probes = [{ name: 'x', kind: 'http', url: 'http://127.0.0.1:1/{{subject.customer_id}}' }];
        },
        /probes\[0\]\.url: "\{\{subject\.customer_id\}\}": "customer_id" is not a subject key \(subject keys: tenant_id, user_id\)/,
      ],
      [
        'unknown-source',
        (m) => {
          m.probes = [{ name: 'x', kind: 'http', url: 'http://h/', headers: { 'x-user': '{{user.id}}' } }];
        },
        /probes\[0\]\.headers\["x-user"\]: "\{\{user\.id\}\}" is not a placeholder this tool knows/,
      ],
      [
        'shell-line',
        (m) => {
          m.probes = [{ name: 'x', kind: 'command', command: 'curl /u/{{subject.user_id}}' }];
        },
        /probes\[0\]\.command: "\{\{subject\.user_id\}\}" in a shell command line is never substituted/,
      ],
      [
        'sql-literal',
        (m) => {
          m.probes = [{ name: 'x', kind: 'sql', query: "select 1 where 'a' = '{{subject.user_id}}'" }];
        },
        /probes\[0\]\.query: "\{\{subject\.user_id\}\}" stands inside quotes or a comment/,
      ],
      [
        'local-key',
        (m) => {
          m.probes = [{ name: 'x', kind: 'browser', url: 'http://127.0.0.1:1/{{localSubject.nope}}' }];
        },
        /probes\[0\]\.url: "\{\{localSubject\.nope\}\}": localSubject has no key "nope"/,
      ],
    ];
    for (const [name, patch, message] of cases) {
      const path = writeManifest(name, patch);
      const r = await cli(['run', '--app', path, '--db-url', 'postgres://127.0.0.1:1/none']);
      expect(r.code, name).toBe(2);
      expect(r.stderr, name).toMatch(message);
      expect(r.stderr).not.toMatch(/at .*\.ts:\d+/);
    }
  });

  it('binds hostile subject values as data: URL-encoded, one header, one SQL parameter', async () => {
    const hostile = "x' or '1'='1&user=ada/../#";
    const values = subjectValues({ capsuleSubject: { tenant_id: 'acme', user_id: hostile } });
    const http = bindProbe(
      {
        kind: 'http',
        url: 'http://127.0.0.1:1/u/{{subject.user_id}}?t={{subject.tenant_id}}',
        body: { who: '{{subject.user_id}}', n: 1 },
      } as ManifestProbe,
      values,
    );
    expect('probe' in http && http.probe.kind === 'http' && http.probe.url).toBe(
      `http://127.0.0.1:1/u/${encodeURIComponent(hostile)}?t=acme`,
    );
    expect('probe' in http && http.probe.kind === 'http' && http.probe.body).toEqual({ who: hostile, n: 1 });
    const header = bindProbe(
      { kind: 'http', url: 'http://h/', headers: { a: '{{subject.user_id}}' } } as ManifestProbe,
      subjectValues({ capsuleSubject: { tenant_id: 't', user_id: 'a\r\nx-evil: 1' } }),
    );
    expect(header).toEqual({ error: expect.stringMatching(/line break cannot go into a header/) });
    const noCapsule = bindProbe(
      { kind: 'browser', url: 'http://h/{{subject.user_id}}' } as ManifestProbe,
      {},
    );
    expect(noCapsule).toEqual({ error: expect.stringMatching(/no capsule, so there is no subject/) });

    await db.query('create table if not exists hostile_users (user_id text)');
    await db.query('insert into hostile_users values ($1), ($2)', [hostile, 'bob']);
    const probe = {
      kind: 'sql',
      name: 'h',
      query: 'select user_id from hostile_users where user_id = {{subject.user_id}}',
    } as const;
    const bound = bindProbe(probe, values);
    if (!('probe' in bound) || !bound.sql) throw new Error('expected an sql binding');
    expect(bound.sql).toEqual({
      text: 'select user_id from hostile_users where user_id = $1',
      params: [hostile],
    });
    const out = await runSqlProbe(probe, { databaseUrl: db.url, mask: (s: string) => s } as never, bound.sql);
    expect(out.ok, out.error).toBe(true);
    expect(out.sql!.rows).toEqual([[hostile]]);
    expect(out.sql!.query).toBe(probe.query);
  });
});
