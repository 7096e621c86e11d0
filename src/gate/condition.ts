/**
 * Gate conditions: a deliberately tiny language over named facts (facts.ts).
 *
 *   materialization_failed          a boolean fact holds
 *   not raw_export_requested        a boolean fact does not hold
 *   graph_related_users == 0        compare a number fact: == != < <= > >=
 *   capsule_integrity != fail       compare a verdict fact: == != with pass|warn|fail|skip
 *
 * or the same as an object: `{fact: graph_related_users, op: '==', value: 0}`. Parsing is strict:
 * an unknown fact, a wrong type or trailing text is an error, never a silent false.
 */
import { FACT_NAMES, FACTS, type FactName, type Facts, isFactName, VERDICT_VALUES } from './facts.js';

const OPERATORS = ['==', '!=', '<', '<=', '>', '>='] as const;
type Operator = (typeof OPERATORS)[number];

export interface Condition {
  fact: FactName;
  /** Absent for a bare boolean fact. */
  op?: Operator;
  value?: boolean | number | string;
  /** `not fact`. */
  negate?: boolean;
  /** The condition as written (canonical form), shown in reasons. */
  text: string;
  /** Optional human reason from the policy file. */
  reason?: string;
}

export class ConditionError extends Error {}

function unknownFact(name: string): ConditionError {
  return new ConditionError(`unknown fact ${JSON.stringify(name)} (known facts: ${FACT_NAMES.join(', ')})`);
}

/** Builds a checked condition from its parts. */
export function makeCondition(
  factName: string,
  op: string | undefined,
  rawValue: unknown,
  negate = false,
  reason?: string,
): Condition {
  if (!isFactName(factName)) throw unknownFact(factName);
  const def = FACTS[factName];
  if (op === undefined) {
    if (rawValue !== undefined)
      throw new ConditionError(`a value needs an operator (${OPERATORS.join(' ')})`);
    if (def.type !== 'boolean') {
      const example = def.type === 'number' ? `${factName} > 0` : `${factName} == fail`;
      throw new ConditionError(
        `fact ${factName} is a ${def.type}, not a boolean: compare it (e.g. "${example}")`,
      );
    }
    return { fact: factName, negate, text: `${negate ? 'not ' : ''}${factName}`, reason };
  }
  if (negate) throw new ConditionError('"not" only applies to a bare boolean fact');
  if (!(OPERATORS as readonly string[]).includes(op))
    throw new ConditionError(
      `unknown operator ${JSON.stringify(op)} (expected one of ${OPERATORS.join(' ')})`,
    );
  const operator = op as Operator;
  let value: boolean | number | string;
  if (def.type === 'number') {
    const n = typeof rawValue === 'number' ? rawValue : typeof rawValue === 'string' ? Number(rawValue) : NaN;
    if (typeof rawValue === 'string' && !/^-?\d+(\.\d+)?$/.test(rawValue.trim()))
      throw new ConditionError(`fact ${factName} is a number; ${JSON.stringify(rawValue)} is not a number`);
    if (!Number.isFinite(n))
      throw new ConditionError(`fact ${factName} is a number; ${JSON.stringify(rawValue)} is not a number`);
    value = n;
  } else if (def.type === 'boolean') {
    if (operator !== '==' && operator !== '!=')
      throw new ConditionError(`fact ${factName} is a boolean: only == and != apply`);
    if (rawValue === true || rawValue === 'true') value = true;
    else if (rawValue === false || rawValue === 'false') value = false;
    else throw new ConditionError(`fact ${factName} is a boolean; compare it with true or false`);
  } else {
    if (operator !== '==' && operator !== '!=')
      throw new ConditionError(`fact ${factName} is a verdict: only == and != apply`);
    if (typeof rawValue !== 'string' || !(VERDICT_VALUES as readonly string[]).includes(rawValue))
      throw new ConditionError(
        `fact ${factName} is a verdict; expected one of ${VERDICT_VALUES.join(', ')}, got ${JSON.stringify(rawValue)}`,
      );
    value = rawValue;
  }
  return { fact: factName, op: operator, value, text: `${factName} ${operator} ${String(value)}`, reason };
}

const CONDITION_RE = /^\s*(?:(not|!)\s*)?([A-Za-z_][A-Za-z0-9_]*)\s*(?:(==|!=|<=|>=|<|>)\s*(\S+))?\s*$/;

/** Parses the string form. */
export function parseCondition(text: string, reason?: string): Condition {
  const m = CONDITION_RE.exec(text);
  if (!m) {
    throw new ConditionError(
      `cannot parse ${JSON.stringify(text)}: expected "fact", "not fact" or "fact <op> value" with op one of ${OPERATORS.join(' ')}`,
    );
  }
  const [, not, name, op, value] = m;
  if (!isFactName(name!)) throw unknownFact(name!);
  return makeCondition(name!, op, value, Boolean(not), reason);
}

export function evaluateCondition(c: Condition, facts: Facts): boolean {
  const actual = facts[c.fact];
  if (c.op === undefined) return c.negate ? actual !== true : actual === true;
  switch (c.op) {
    case '==':
      return actual === c.value;
    case '!=':
      return actual !== c.value;
    case '<':
      return (actual as number) < (c.value as number);
    case '<=':
      return (actual as number) <= (c.value as number);
    case '>':
      return (actual as number) > (c.value as number);
    case '>=':
      return (actual as number) >= (c.value as number);
  }
}
