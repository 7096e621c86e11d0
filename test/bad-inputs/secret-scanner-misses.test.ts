/**
 * Credentials the scanner used to miss in a safe export: a PEM key in a bytea column, GitHub and
 * AWS key ids used as jsonb object keys, a 40-character AWS secret key, an OpenAI project key and
 * a column named `credentials`. Findings name where (paths; an object key by position), never
 * the value.
 */
import { describe, expect, it } from 'vitest';
import { mightHoldSecrets, scanValue } from '../../src/redaction/secret-scanner.js';

const PEM = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----';
const GHP = `ghp_${'A1b2C3d4E5'.repeat(4)}`;
const AKIA = 'AKIAIOSFODNN7EXAMPLE';
const AWS_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const OPENAI = `sk-proj-${'abcDEF123_'.repeat(5)}`;

function kindsOf(row: Record<string, unknown>): string[] {
  expect(mightHoldSecrets(JSON.stringify(row))).toBe(true);
  return scanValue(row).map((f) => `${f.path}:${f.kind}`);
}

describe('secret scanner: the cases it missed', () => {
  it('a PEM private key inside a bytea column (exported as \\x hex)', () => {
    const row = { id: 1, blob: `\\x${Buffer.from(PEM).toString('hex')}` };
    expect(kindsOf(row)).toEqual(['blob:private-key (bytea)']);
  });

  it('ghp_ and AKIA tokens as jsonb object keys, reported by position only', () => {
    const row = { settings: { [GHP]: true, plain: 1, [AKIA]: 'x' } };
    const found = kindsOf(row);
    expect(found).toEqual([
      'settings{key #0}:github-token (object key)',
      'settings{key #2}:aws-access-key (object key)',
    ]);
    expect(JSON.stringify(found)).not.toContain(GHP);
    expect(JSON.stringify(found)).not.toContain(AKIA);
  });

  it('a 40-character AWS secret access key next to its name', () => {
    expect(kindsOf({ note: `aws_secret_access_key = ${AWS_SECRET}` })).toEqual(['note:aws-secret-key']);
  });

  it('an OpenAI project key', () => {
    expect(kindsOf({ note: `use ${OPENAI} for the bot` })).toEqual(['note:openai-key']);
  });

  it('a column named credentials', () => {
    expect(scanValue({ credentials: 'hunter2-but-longer' }).map((f) => f.kind)).toEqual(['secret-field']);
  });

  it('ordinary rows stay clean', () => {
    expect(scanValue({ name: 'Ada', body: 'ask about the task list', blob: '\\x48656c6c6f' })).toEqual([]);
  });
});
