import { describe, expect, it } from 'vitest';
import { quoteIdent, quoteIdentIfNeeded, quoteQualified, quoteSchemaName } from '../../src/util/sql-names.js';

describe('SQL identifier quoting', () => {
  it('keeps a hostile name one identifier (inner quotes doubled)', () => {
    expect(quoteIdent('a"; drop table x; --')).toBe('"a""; drop table x; --"');
    expect(quoteIdent('Users')).toBe('"Users"');
  });

  it('quotes each part of a schema-qualified capsule table name', () => {
    expect(quoteQualified('users')).toBe('"users"');
    expect(quoteQualified('billing.Invoices')).toBe('"billing"."Invoices"');
    expect(quoteSchemaName('billing', 'a.b')).toBe('"billing"."a.b"');
  });

  it('leaves plain lower-case names bare when written for a person to read', () => {
    expect(quoteIdentIfNeeded('user_id')).toBe('user_id');
    expect(quoteIdentIfNeeded('UserId')).toBe('"UserId"');
    expect(quoteIdentIfNeeded('order by')).toBe('"order by"');
  });
});
