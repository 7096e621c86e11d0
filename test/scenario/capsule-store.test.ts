/**
 * Where `scenario add` keeps a capsule: under the repository's capsules/ (git-ignored), copied
 * there unless it already is, never over another file, never out of the repository through a
 * `capsules` symlink.
 */
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { storeExistingCapsule } from '../../src/scenario/capsule-store.js';

const fresh = () => mkdtempSync(join(tmpdir(), 'capsule-store-'));

describe('storeExistingCapsule', () => {
  it('copies a capsule from elsewhere to capsules/<id><its suffix>; one already there is used in place', async () => {
    const repo = fresh();
    const outside = join(fresh(), 'export.json.gz.age');
    writeFileSync(outside, 'age-encryption.org/v1\n…');
    const stored = await storeExistingCapsule(repo, 'ada', outside);
    expect(stored).toMatchObject({ registryPath: 'capsules/ada.json.gz.age', copied: true });
    expect(readFileSync(join(repo, 'capsules/ada.json.gz.age'), 'utf8')).toBe('age-encryption.org/v1\n…');
    const again = await storeExistingCapsule(repo, 'other-id', join(repo, 'capsules/ada.json.gz.age'));
    expect(again).toMatchObject({ registryPath: 'capsules/ada.json.gz.age', copied: false });
  });

  it('never overwrites a stored capsule', async () => {
    const repo = fresh();
    mkdirSync(join(repo, 'capsules'));
    writeFileSync(join(repo, 'capsules/ada.json'), 'the blessed one');
    const outside = join(fresh(), 'new.json');
    writeFileSync(outside, '{}');
    await expect(storeExistingCapsule(repo, 'ada', outside)).rejects.toThrow(
      /capsules\/ada.json already exists/,
    );
    expect(readFileSync(join(repo, 'capsules/ada.json'), 'utf8')).toBe('the blessed one');
  });

  it('refuses a capsules/ that is a symlink out of the repository', async () => {
    const repo = fresh();
    const elsewhere = fresh();
    symlinkSync(elsewhere, join(repo, 'capsules'));
    const outside = join(fresh(), 'c.json');
    writeFileSync(outside, '{}');
    await expect(storeExistingCapsule(repo, 'ada', outside)).rejects.toThrow(/outside the repository/);
  });
});
