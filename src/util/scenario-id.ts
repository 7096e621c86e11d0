/**
 * Scenario ids name golden files (`<golden dir>/<id>.golden.json`, `<id>.screenshots/`), so they
 * come from untrusted traces and goldens but must never leave the golden directory: one strict
 * pattern — a letter or digit, then letters, digits, ".", "_" or "-", at most 128 characters, and
 * never "..".
 */
import { z } from 'zod';

const SCENARIO_ID_PATTERN = /^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export const SCENARIO_ID_RULE =
  'a scenario id (a letter or digit, then letters, digits, ".", "_" or "-"; at most 128 characters; no "..")';

export function isScenarioId(id: string): boolean {
  return SCENARIO_ID_PATTERN.test(id);
}

export const scenarioIdSchema = z.string().regex(SCENARIO_ID_PATTERN, {
  error: (iss) => `must be ${SCENARIO_ID_RULE}, got ${JSON.stringify(iss.input)}`,
});
