/** `--scenario <id>`: refused at parse time unless it is a scenario id (it names golden files). */
import { InvalidArgumentError } from 'commander';
import { isScenarioId, SCENARIO_ID_RULE } from '../util/scenario-id.js';

export function scenarioIdArg(value: string): string {
  if (!isScenarioId(value))
    throw new InvalidArgumentError(`must be ${SCENARIO_ID_RULE}, got ${JSON.stringify(value)}`);
  return value;
}
