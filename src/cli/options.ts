/** Shared option parsers for commander. */
import { InvalidArgumentError } from 'commander';

/** `--subject k=v` (repeatable) → ordered pairs. */
export function collectKeyValue(value: string, previous: [string, string][] = []): [string, string][] {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`expected key=value, got ${JSON.stringify(value)}`);
  return [...previous, [value.slice(0, eq), value.slice(eq + 1)]];
}

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0)
    throw new InvalidArgumentError(`expected a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

export function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new InvalidArgumentError(`expected a non-negative integer, got ${JSON.stringify(value)}`);
  return n;
}

export function oneOf<T extends string>(choices: readonly T[]) {
  return (value: string): T => {
    if (!(choices as readonly string[]).includes(value)) {
      throw new InvalidArgumentError(`expected one of ${choices.join(', ')}, got ${JSON.stringify(value)}`);
    }
    return value as T;
  };
}

/** `--delete-dependents` (materialize-postgres, run): see postgres/materialize/delete-phase.ts. */
export const DELETE_DEPENDENTS_HELP =
  "also delete rows of undeclared tables that reference the graph's rows being replaced (listed and counted in the output and the trace); without it such rows stop the load";
