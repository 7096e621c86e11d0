/**
 * A foreign-key violation's DETAIL (Postgres puts the key values there) kept as structure: the constraint's columns and the referenced (or referencing) table, key values masked.
 *
 *   Key (moderator_id)=(3) is not present in table "person".
 *   → key (moderator_id)=(…) is not present in table person
 */

const FK_DETAIL =
  /^Key \((.+?)\)=\(.*\) (is not present in|is still referenced from) table "((?:[^"]|"")+)"\.?$/s;

/** The masked structure of a 23503 DETAIL; null for other errors or an unrecognised detail. */
export function foreignKeyDetail(err: unknown): string | null {
  const e = err as { code?: string; detail?: string };
  if (e?.code !== '23503' || typeof e.detail !== 'string') return null;
  const m = FK_DETAIL.exec(e.detail);
  if (!m) return null;
  return `key (${plain(m[1]!)})=(…) ${m[2]} table ${plain(m[3]!.replace(/""/g, '"'))}`;
}

/** Catalog names in a terminal message: printable characters only. */
function plain(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}
