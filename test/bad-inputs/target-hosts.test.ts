/**
 * Target safety judges the host libpq and node-postgres will actually reach: numeric and hex IPv4
 * (`873267715` and `0x34010203` are the public addresses 52.13.2.3 and 52.1.2.3, not single-label service names),
 * trailing dots on managed-cloud names, ?host= / ?hostaddr= / ?user= / ?dbname= overrides and host
 * lists. A refused remote target exits 2 before any connection (materialize-postgres end to end).
 */
import { lookup } from 'node:dns/promises';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inetAton } from '../../src/postgres/libpq-host.js';
import { classifyDatabaseUrl } from '../../src/postgres/target-safety.js';
import { cli } from '../helpers/cli.js';

const kind = (url: string) => classifyDatabaseUrl(url).kind;

describe('hosts are read the way libpq reads them', () => {
  it('numeric and hex IPv4 hosts are the addresses the resolver makes of them', async () => {
    expect(inetAton('873267715')).toBe('52.13.2.3');
    expect(inetAton('0x34010203')).toBe('52.1.2.3');
    expect(inetAton('0177.1')).toBe('127.0.0.1');
    expect(inetAton('postgres')).toBeNull();
    // The system resolver agrees (no network: numeric hosts never reach DNS).
    expect((await lookup('873267715', { family: 4 })).address).toBe('52.13.2.3');
    expect((await lookup('0x34010203', { family: 4 })).address).toBe('52.1.2.3');
  });

  it('a public IP written as a number is remote, not a single-label local host', () => {
    expect(kind('postgres://u@873267715/app')).toBe('remote');
    expect(kind('postgres://u@0x34010203/app')).toBe('remote');
    expect(kind('postgres://u@2130706433/app')).toBe('local'); // 127.0.0.1
    expect(kind('postgres://u@127.1/app')).toBe('local');
    expect(kind('postgres://u@postgres/app')).toBe('local'); // a CI service container stays local
  });

  it('a managed-cloud name with a trailing dot is production', () => {
    expect(kind('postgres://u@db.abc.eu-west-1.rds.amazonaws.com./app')).toBe('production');
    expect(kind('postgres://u@DB.ABC.EU-WEST-1.RDS.AMAZONAWS.COM../app')).toBe('production');
  });

  it('query parameters override the URL as libpq does', () => {
    expect(kind('postgres://u@localhost/app?host=db.abc.rds.amazonaws.com')).toBe('production');
    expect(kind('postgres://u@localhost/app?hostaddr=52.1.2.3')).toBe('remote');
    expect(kind('postgres://u@localhost/app?user=prod_writer')).toBe('production');
    expect(kind('postgres://u@localhost/app?dbname=app_production')).toBe('production');
  });

  it('every host of a host list is judged: the most dangerous decides', () => {
    expect(kind('postgres://u@localhost/app?host=localhost,db.abc.rds.amazonaws.com')).toBe('production');
    expect(kind('postgres://u@localhost/app?host=localhost,873267715')).toBe('remote');
    expect(kind('postgres://u@localhost/app?host=localhost,127.0.0.1')).toBe('local');
  });
});

describe('the CLI refuses them before connecting', () => {
  const dir = mkdtempSync(join(tmpdir(), 'target-hosts-'));
  const app = join(dir, 'app.json');
  writeFileSync(
    app,
    JSON.stringify({
      appId: 'hosts',
      adapter: 'postgres-subject-graph.v1',
      subjectKeys: ['account_id'],
      postgres: { tables: [{ name: 'accounts', deletePredicate: 't.account_id = g.account_id' }] },
    }),
  );
  for (const url of ['postgres://u@873267715/app', 'postgres://u@0x34010203/app']) {
    it(`materialize-postgres --db-url ${url}`, async () => {
      const r = await cli([
        'materialize-postgres',
        '--app',
        app,
        '--capsule',
        join(dir, 'c.json'),
        '--db-url',
        url,
      ]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/52\.1?3?\.2\.3|52\.1\.2\.3/);
      expect(r.stderr).toMatch(/--allow-remote/);
    });
  }
  it('--allow-remote does not unlock a managed-cloud name with a trailing dot', async () => {
    const r = await cli([
      'materialize-postgres',
      '--app',
      app,
      '--capsule',
      join(dir, 'c.json'),
      '--db-url',
      'postgres://u@db.abc.eu-west-1.rds.amazonaws.com./app',
      '--allow-remote',
    ]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/production database/);
  });
});
