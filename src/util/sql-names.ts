/**
 * SQL identifier quoting: the one place the rule lives. The quoting itself is node-postgres's
 * `escapeIdentifier` (double quotes, inner double quotes doubled), so a name is always one
 * identifier, never SQL.
 */
import { escapeIdentifier } from 'pg';

/** Quote one SQL identifier: `a"b` → `"a""b"`. */
export const quoteIdent: (name: string) => string = escapeIdentifier;

/** A capsule table name, bare or `schema.table`, with each dot-separated part quoted. */
export function quoteQualified(name: string): string {
  return name.split('.').map(escapeIdentifier).join('.');
}

/** A schema and a name as `"schema"."name"`. */
export function quoteSchemaName(schema: string, name: string): string {
  return `${escapeIdentifier(schema)}.${escapeIdentifier(name)}`;
}

/** An identifier as written by hand: bare when it is a plain lower-case name, quoted otherwise. */
export function quoteIdentIfNeeded(name: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(name) ? name : escapeIdentifier(name);
}
