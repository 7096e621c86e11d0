/** A load error's message without capsule values, with a foreign-key violation's masked DETAIL. */
import { describePgError } from '../connect.js';
import { foreignKeyDetail } from './fk-error.js';
import { withoutValues } from './load-table.js';

export function describeLoadError(err: unknown): string {
  const base = withoutValues(describePgError(err));
  const detail = foreignKeyDetail(err);
  return detail ? `${base} (${detail})` : base;
}
