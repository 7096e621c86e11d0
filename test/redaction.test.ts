import { describe, expect, it } from 'vitest';
import type { RedactionRule } from '../src/manifest/schema.js';
import { buildRedactor, hashValue, hmacValue, maskValue } from '../src/redaction/redact.js';
import {
  isSecretFieldName,
  maskSecrets,
  mightHoldSecrets,
  scanText,
  scanValue,
} from '../src/redaction/secret-scanner.js';
import { type ExactJson, parseExact, stringifyExact } from '../src/util/exact-json.js';

type Row = Record<string, ExactJson>;
const row = (json: string) => parseExact(json) as Row;

function redact(rules: RedactionRule[], table: string, json: string, env: Record<string, string> = {}) {
  const paths: string[] = [];
  const out = buildRedactor(rules, { env }).redactRow(table, row(json), (p) => paths.push(p));
  return { text: stringifyExact(out), paths };
}

describe('hash: the original tool’s values (compat/expected.md)', () => {
  it('hashes UTF-8 strings as prefix + 12 hex of sha256', () => {
    expect(hashValue('alice@acme.example', 'sn-email-')).toBe('sn-email-b29433513db8');
    expect(hashValue('alice.alt@acme.example', 'sn-email-')).toBe('sn-email-c7b2bf345f17');
    expect(hashValue('frank@globex.example', 'sn-email-')).toBe('sn-email-945e70d44a19');
    expect(hashValue('gh-583231')).toBe('replay-f3e459ba7407');
    expect(hashValue('108234567890123456789')).toBe('replay-eb0472f5b57e');
    expect(hashValue('\\N', '')).toBe('b582d3167c70');
    expect(hashValue('Hey Bob 👋, "quoted" and it\'s fine\nsecond line', '')).toBe('4bf4b1fafba1');
  });

  it('hashes objects as compact JSON in their key order, with exact numbers', () => {
    // Same as the original where f64 keeps the digits…
    expect(hashValue(parseExact('{"ratio": 0.25, "max_upload": 9007199254740993}'), 'limits-')).toBe(
      'limits-a4982e0a2c5f',
    );
    // …and the exact text where it did not (the original hashed 1.1 → limits-d2d3e0a158a7).
    expect(hashValue(parseExact('{"ratio": 1.10, "max_upload": 1048576}'), 'limits-')).toBe(
      'limits-75af39a7cb8b',
    );
  });
});

describe('redaction rules', () => {
  const compatRules: RedactionRule[] = [
    { fields: ['email'], action: 'hash', prefix: 'sn-email-' },
    { fields: ['access_token'], action: 'empty' },
    { fields: ['refresh_token'] },
    { table: 'provider_connections', fields: ['metadata'], action: 'empty_object' },
    { fields: ['ip_address'], action: 'null' },
    { fields: ['recovery_codes'], action: 'empty_array' },
    { fields: ['phone'], action: 'null', recursive: false },
  ];

  it('applies recursively through objects and arrays, leaving null and "" alone', () => {
    const r = redact(
      compatRules,
      'profiles',
      '{"email":"a@b.c","phone":"+1","bio":"","settings":{"contact":{"email":"x@y.z","phone":"+2"},"recovery_codes":["r1"],"deep":[1,[{"access_token":"t"}]]},"refresh_token":null,"ip_address":""}',
    );
    expect(r.text).toBe(
      `{"email":"${hashValue('a@b.c', 'sn-email-')}","phone":null,"bio":"","settings":{"contact":{"email":"${hashValue('x@y.z', 'sn-email-')}","phone":"+2"},"recovery_codes":[],"deep":[1,[{"access_token":""}]]},"refresh_token":null,"ip_address":""}`,
    );
    expect(r.paths.sort()).toEqual(
      [
        'email',
        'phone',
        'settings.contact.email',
        'settings.deep[1][0].access_token',
        'settings.recovery_codes',
      ].sort(),
    );
  });

  it('scopes rules to their table and keeps null for empty_object', () => {
    expect(redact(compatRules, 'provider_connections', '{"metadata":{"a":1}}').text).toBe('{"metadata":{}}');
    expect(redact(compatRules, 'provider_connections', '{"metadata":null}').text).toBe('{"metadata":null}');
    expect(redact(compatRules, 'other', '{"metadata":{"a":1}}').text).toBe('{"metadata":{"a":1}}');
  });

  it('default action is empty; field names are exact and case-sensitive', () => {
    expect(redact([{ fields: ['token'] }], 't', '{"token":"x","Token":"y","tokens":"z"}').text).toBe(
      '{"token":"","Token":"y","tokens":"z"}',
    );
  });

  it('hashes non-string values by their exact compact JSON', () => {
    expect(
      redact([{ fields: ['n'], action: 'hash' }], 't', '{"n":123456789012345678901234567890}').text,
    ).toBe(`{"n":"${hashValue(parseExact('123456789012345678901234567890'))}"}`);
    expect(hashValue(parseExact('123456789012345678901234567890'))).toBe(
      hashValue('123456789012345678901234567890'),
    );
  });

  it('hmac: keyed, deterministic, and needs its key', () => {
    const rules: RedactionRule[] = [{ fields: ['email'], action: 'hmac', keyEnv: 'K' }];
    const a = redact(rules, 't', '{"email":"a@b.c"}', { K: 'key-1' }).text;
    expect(a).toBe(`{"email":"${hmacValue('a@b.c', 'key-1')}"}`);
    expect(a).toMatch(/^\{"email":"replay-[0-9a-f]{12}"\}$/);
    expect(redact(rules, 't', '{"email":"a@b.c"}', { K: 'key-2' }).text).not.toBe(a);
    expect(a).not.toContain(hashValue('a@b.c').slice(7));
    expect(() => redact(rules, 't', '{"email":"a@b.c"}', {})).toThrow(/redactionRules\[0\].*K/);
  });

  it('mask keeps the last N characters; constant replaces with any JSON value', () => {
    expect(maskValue('+1-555-0100')).toBe('*******0100');
    expect(maskValue('abc', 4)).toBe('***');
    expect(maskValue('👋👋👋👋👋x', 2, '#')).toBe('####👋x');
    expect(
      redact(
        [
          { fields: ['phone'], action: 'mask', keep: 2, maskChar: 'x' },
          { fields: ['ssn'], action: 'constant', value: { redacted: true } },
        ],
        't',
        '{"phone":"12345","ssn":"123-45","other":""}',
      ).text,
    ).toBe('{"phone":"xxx45","ssn":{"redacted":true},"other":""}');
  });

  it('non-recursive rules touch only top-level columns', () => {
    expect(
      redact(
        [{ fields: ['phone'], action: 'null', recursive: false }],
        't',
        '{"phone":"1","c":{"phone":"2"}}',
      ).text,
    ).toBe('{"phone":null,"c":{"phone":"2"}}');
  });
});

describe('secret scanner', () => {
  const samples: [string, string][] = [
    ['private-key', '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----'],
    [
      'private-key',
      '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----',
    ],
    [
      'jwt',
      'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c',
    ],
    ['aws-access-key', 'AKIAIOSFODNN7EXAMPLE'],
    ['aws-access-key', 'ASIAY34FZKBOKMUTVV7A'],
    ['github-token', 'gho_16C7e42F292c6912E7710c838347Ae178B4a'],
    ['github-token', 'github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz'],
    ['slack-token', 'xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy'],
    ['stripe-key', 'sk_live_51H8abcdefghijklmnopqrstu'],
    ['stripe-key', 'rk_live_51H8abcdefghijklmnop'],
    ['stripe-key', 'sk_test_4eC39HqLyjWDarjtT1zdp7dc'],
    ['google-api-key', 'AIzaSyD-1234567890abcdefghijklmnopqrstu'],
    ['bearer-token', 'Authorization: Bearer abc.def-ghi_jkl'],
    ['url-password', 'postgres://app:s3cret@db.internal:5432/app'],
  ];

  it.each(samples)('finds %s in text', (kind, text) => {
    expect(scanText(`before ${text} after`).map((f) => f.kind)).toContain(kind);
    expect(mightHoldSecrets(JSON.stringify({ note: `x ${text}` }))).toBe(true);
  });

  it('does not flag ordinary text', () => {
    for (const t of [
      'hello world',
      'ghs_nested',
      'https://example.com/a?b=c',
      'Bearer',
      'the token was revoked',
    ]) {
      expect(scanText(t)).toEqual([]);
    }
  });

  it('flags non-empty values in secret-named fields and reports paths, never values', () => {
    const findings = scanValue(
      parseExact(
        '{"password":"hunter2","api_key":"","token_type":"bearer","nested":{"clientSecret":"abc","list":[{"x":"AKIAIOSFODNN7EXAMPLE"}]},"note":"fine","tokens":["t1"]}',
      ),
    );
    expect(findings).toEqual([
      { path: 'password', kind: 'secret-field' },
      { path: 'nested.clientSecret', kind: 'secret-field' },
      { path: 'nested.list[0].x', kind: 'aws-access-key' },
      { path: 'tokens[0]', kind: 'secret-field' },
    ]);
    expect(JSON.stringify(findings)).not.toMatch(/hunter2|abc"|AKIA/);
  });

  it('skips values that a redaction rule produced', () => {
    expect(scanValue({ password: 'replay-0123456789ab' }, '', { skip: (p) => p === 'password' })).toEqual([]);
  });

  it('normalizes field names', () => {
    for (const n of [
      'password',
      'DB_PASSWORD',
      'passwd',
      'clientSecret',
      'api-key',
      'APIKEY',
      'accessKey',
      'private_key',
      'refresh_token',
    ])
      expect(isSecretFieldName(n)).toBe(true);
    for (const n of ['token_type', 'password_expires_at', 'email', 'keyboard', 'tokens_used'])
      expect(isSecretFieldName(n)).toBe(false);
  });

  it('maskSecrets hides credentials and extra secret values', () => {
    const masked = maskSecrets(
      'curl -H "Authorization: Bearer abcdefgh12345" postgres://u:pw123@h/db password=hunter2 {"api_key": "k-123"} token_type=bearer MYVAL xy',
      ['MYVAL', 'xy'],
    );
    expect(masked).toBe(
      'curl -H "Authorization: Bearer ***" postgres://u:***@h/db password=*** {"api_key": "***"} token_type=bearer *** xy',
    );
    expect(maskSecrets('key gho_16C7e42F292c6912E7710c838347Ae178B4a end')).toBe('key *** end');
  });

  it('masks the password of a URL even when the same text appears earlier (scheme, user)', () => {
    expect(maskSecrets('postgres://postgres:postgres@127.0.0.1:5432/app')).toBe(
      'postgres://postgres:***@127.0.0.1:5432/app',
    );
    expect(maskSecrets('Bearer Bearer12345678')).toBe('Bearer ***');
  });
});
