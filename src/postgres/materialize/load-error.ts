/**
 * Load errors as users see them: where the load failed (table, chunk, row index, column,
 * constraint, SQLSTATE) and the server's message, never a capsule value.
 */
import { FailureError } from '../../errors.js';
import { describePgError } from '../connect.js';
import { foreignKeyDetail } from './fk-error.js';

/** A load error's message without capsule values, with a foreign-key violation's masked DETAIL. */
export function describeLoadError(err: unknown): string {
  const base = withoutValues(describePgError(err));
  const detail = foreignKeyDetail(err);
  return detail ? `${base} (${detail})` : base;
}

/**
 * The server's message without the row value Postgres quotes at its end
 * (`invalid input syntax for type integer: "…"`): capsule rows may be customer data.
 */
export function withoutValues(message: string): string {
  // Also the value Postgres quotes inside the message (`value "…" is out of range for type integer`).
  return message
    .replace(/\bvalue "(?:[^"]|"")*"/gs, 'value "…"')
    .replace(/: ".*"$/s, ': "…"')
    .replace(/\n.*$/s, '');
}

/** True for a server error (a five-character SQLSTATE), false for a socket or client error. */
export function hasSqlState(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code);
}

/**
 * The error a failed load throws: `row` is the failing row's index within the table (null when
 * unknown), `segmentFirstRow` the first row of the statement that failed (for its chunk number).
 */
export function loadError(
  table: string,
  chunkSize: number,
  err: unknown,
  row: number | null,
  segmentFirstRow: number | null,
): FailureError {
  const e = err as { message?: string; code?: string; column?: string; constraint?: string };
  const where: string[] = [`table ${table}`];
  const at = row ?? segmentFirstRow;
  if (at !== null) where.push(`chunk ${Math.floor(at / chunkSize) + 1}`);
  if (row !== null) where.push(`row ${row}`);
  const extra: string[] = [];
  const column = e?.column ?? copyErrorColumn(err);
  if (column) extra.push(`column ${column}`);
  if (e?.constraint) extra.push(`constraint ${e.constraint}`);
  const fkDetail = foreignKeyDetail(err);
  if (fkDetail) extra.push(fkDetail);
  if (e?.code) extra.push(`SQLSTATE ${e.code}`);
  const message = withoutValues(e?.message ?? String(err));
  return new FailureError(
    `materialize failed at ${where.join(', ')} (row index counts from 0 within the table): ${message}${
      extra.length ? ` [${extra.join(', ')}]` : ''
    }; the transaction was rolled back and the target is unchanged`,
    { cause: err },
  );
}

/** The column a COPY error's CONTEXT line names. */
function copyErrorColumn(err: unknown): string | null {
  const where = (err as { where?: string })?.where;
  const m = where ? /COPY [^,]+, line \d+, column ([^:]+):/.exec(where) : null;
  return m ? m[1]! : null;
}
