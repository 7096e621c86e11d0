import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { loadManifest, validateManifest } from '../../src/manifest/load.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { COMPAT_DIR, hasCompat } from '../helpers/shared.js';

const compatManifests = hasCompat
  ? readdirSync(COMPAT_DIR)
      .filter((f) => f.endsWith('.json'))
      .filter((f) => {
        try {
          return 'appId' in JSON.parse(readFileSync(join(COMPAT_DIR, f), 'utf8'));
        } catch {
          return false;
        }
      })
  : [];

describe.skipIf(!hasCompat)('manifests written for the original tool', () => {
  it('finds the compat manifests', () => {
    expect(compatManifests).toEqual(expect.arrayContaining(['profilescribe.json', 'socialnotes.json']));
  });

  it.each(compatManifests)('%s loads unchanged, with no unknown keys', (file) => {
    const raw = JSON.parse(readFileSync(join(COMPAT_DIR, file), 'utf8'));
    const { manifest, unknownKeys } = loadManifest(join(COMPAT_DIR, file));
    expect(unknownKeys).toEqual([]);
    expect(manifest.appId).toBe(raw.appId);
    expect(manifest.subjectKeys).toEqual(raw.subjectKeys);
    expect(manifest.postgres.tables.map((t) => t.name)).toEqual(
      raw.postgres.tables.map((t: { name: string }) => t.name),
    );
    expect(manifest.postgres.graphEdges).toEqual(raw.postgres.graphEdges);
    expect(manifest.redactionRules).toEqual(raw.redactionRules);
    expect(manifest.probes).toEqual(raw.probes);
  });
});

describe('config/apps manifests', () => {
  const dir = join(REPO_ROOT, 'config/apps');
  it.each(readdirSync(dir).filter((f) => f.endsWith('.json')))('%s is valid with no unknown keys', (file) => {
    expect(loadManifest(join(dir, file)).unknownKeys).toEqual([]);
  });
});

describe('manifest problems', () => {
  const base = {
    appId: 'x',
    adapter: 'postgres-subject-graph.v1',
    subjectKeys: ['user_id'],
    postgres: { tables: [{ name: 'users' }, { name: 'orders' }], tableOrder: ['users', 'orders'] },
  };
  const problems = (raw: unknown): string[] => {
    try {
      validateManifest(raw, 'm.json');
    } catch (err) {
      expect(err).toBeInstanceOf(InputError);
      return (err as Error).message
        .split('\n')
        .slice(1)
        .map((l) => l.trim());
    }
    return [];
  };

  it('reports every problem at once with its JSON path', () => {
    const lines = problems({
      ...base,
      subjectKeys: ['user id'],
      postgres: {
        tables: [{ name: 'users' }, { name: 'users', alias: 'a-b' }],
        tableOrder: ['users', 'ghosts'],
      },
      redactionRules: [{ fields: ['email'], action: 'scramble' }],
    });
    expect(lines).toEqual(
      expect.arrayContaining([
        'm.json: subjectKeys[0]: must be a plain SQL identifier, got "user id"',
        'm.json: postgres.tables[1].alias: must be a plain SQL identifier, got "a-b"',
        expect.stringMatching(
          /^m\.json: redactionRules\[0\]\.action: must be one of empty, null, .*got "scramble"$/,
        ),
        expect.stringMatching(/^m\.json: postgres\.tables\[1\]\.name: duplicate table "users"/),
        expect.stringMatching(
          /^m\.json: postgres\.tableOrder\[1\]: names "ghosts", which is not a declared table/,
        ),
      ]),
    );
  });

  it('refuses a table named __proto__ (its rows could not be checked in the capsule)', () => {
    const lines = problems({ ...base, postgres: { tables: [{ name: '__proto__' }] } });
    expect(lines).toEqual([
      expect.stringMatching(/^m\.json: postgres\.tables\[0\]\.name: must not be "__proto__"/),
    ]);
  });

  it('requires a known probe kind with its fields', () => {
    const lines = problems({ ...base, probes: [{ kind: 'http' }, { kind: 'sql', query: 'select 1' }] });
    expect(lines).toEqual([expect.stringMatching(/^m\.json: probes\[0\]\.url: /)]);
  });

  it('accepts unknown keys and lists them by path', () => {
    const loaded = validateManifest(
      { ...base, extra: 1, postgres: { ...base.postgres, tabelOrder: [] } },
      'm.json',
    );
    expect([...loaded.unknownKeys].sort()).toEqual(['extra', 'postgres.tabelOrder']);
  });
});
