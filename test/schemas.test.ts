import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { PUBLISHED_SCHEMAS, renderSchema } from '../scripts/schemas.js';
import { REPO_ROOT } from './helpers/cli.js';
import { COMPAT_DIR, hasCompat } from './helpers/shared.js';

const onDisk = (file: string): string | null => {
  try {
    return readFileSync(join(REPO_ROOT, file), 'utf8');
  } catch {
    return null;
  }
};

describe('published JSON Schemas (schema/)', () => {
  it.each(PUBLISHED_SCHEMAS.map((s) => [s.file, s] as const))('%s is up to date', (file, entry) => {
    const fresh = renderSchema(entry);
    const current = onDisk(file);
    expect(current, `${file} is missing: run \`npm run schemas\` and commit the result`).not.toBeNull();
    expect(current === fresh, `${file} is stale: run \`npm run schemas\` and commit the result`).toBe(true);
  });

  const ajv = new Ajv2020({ allErrors: true, strict: false });
  const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ??
    addFormatsModule) as unknown as (a: Ajv2020) => void;
  addFormats(ajv);
  const manifestSchema = JSON.parse(renderSchema(PUBLISHED_SCHEMAS[0]!));
  const validate = ajv.compile(manifestSchema);

  it('the manifest schema accepts config/apps/pagila.json and unknown keys, and rejects a bad adapter', () => {
    const pagila = JSON.parse(readFileSync(join(REPO_ROOT, 'config/apps/pagila.json'), 'utf8'));
    expect(validate(pagila), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({ ...pagila, someNewField: 1 })).toBe(true);
    expect(validate({ ...pagila, adapter: 'other' })).toBe(false);
    // Optional-with-default fields are optional for people writing manifests.
    expect(
      validate({ appId: 'x', adapter: 'postgres-subject-graph.v1', subjectKeys: ['id'], postgres: {} }),
      JSON.stringify(validate.errors),
    ).toBe(true);
  });

  it.skipIf(!hasCompat)(
    'the manifest schema accepts the compat manifests, the capsule schema the compat capsules',
    () => {
      for (const f of ['socialnotes.json', 'profilescribe.json']) {
        const m = JSON.parse(readFileSync(join(COMPAT_DIR, f), 'utf8'));
        expect(validate(m), `${f}: ${JSON.stringify(validate.errors)}`).toBe(true);
      }
      const capsule = ajv.compile(JSON.parse(renderSchema(PUBLISHED_SCHEMAS[1]!)));
      const c = JSON.parse(readFileSync(join(COMPAT_DIR, 'socialnotes.safe.json'), 'utf8'));
      expect(capsule(c), JSON.stringify(capsule.errors)).toBe(true);
    },
  );
});
