/**
 * The gate policy: which facts block, warn, ask for human review, or must all hold to ship to
 * staging. The default policy is loops/user-history-replay/gate.yaml (see defaultPolicyPath).
 *
 * Decision: block if any block_if condition holds; else warn if any warn_if or human_review_if
 * condition holds, or some ship_to_staging_if condition does not; else continue.
 */
import { z } from 'zod';
import type { Decision } from '../trace/schema.js';
import { loopFile } from '../util/package-root.js';
import { readYamlFile, validateFile } from '../util/yaml-file.js';
import { formatPath, invalidFile } from '../util/zod-issues.js';
import {
  type Condition,
  ConditionError,
  evaluateCondition,
  makeCondition,
  parseCondition,
} from './condition.js';
import { FACTS, type Facts } from './facts.js';

const conditionItemSchema = z.union(
  [
    z.string().min(1),
    z.strictObject({ when: z.string().min(1), reason: z.string().optional() }),
    z.strictObject({
      fact: z.string().min(1),
      op: z.string().optional(),
      value: z.union([z.number(), z.boolean(), z.string()]).optional(),
      reason: z.string().optional(),
    }),
  ],
  {
    error: () =>
      'must be a condition: a string like "materialization_failed" or "graph_related_users == 0", or {fact, op, value, reason} or {when, reason}',
  },
);

const LISTS = ['block_if', 'warn_if', 'human_review_if', 'ship_to_staging_if'] as const;
type ListName = (typeof LISTS)[number];

const policyFileSchema = z.strictObject({
  version: z.literal(1, { error: 'must be 1' }).optional(),
  name: z.string().optional(),
  description: z.string().optional(),
  block_if: z.array(conditionItemSchema).default([]),
  warn_if: z.array(conditionItemSchema).default([]),
  human_review_if: z.array(conditionItemSchema).default([]),
  ship_to_staging_if: z.array(conditionItemSchema).default([]),
});

export interface GatePolicy {
  path: string;
  name?: string;
  description?: string;
  block_if: Condition[];
  warn_if: Condition[];
  human_review_if: Condition[];
  ship_to_staging_if: Condition[];
}

export function defaultPolicyPath(): string {
  return loopFile('gate.yaml');
}

export function loadPolicy(path: string = defaultPolicyPath()): GatePolicy {
  return validatePolicy(readYamlFile(path, 'gate policy'), path);
}

/** Validates an already-parsed policy document (shape, then every condition). */
function validatePolicy(raw: unknown, path: string): GatePolicy {
  const file = validateFile(policyFileSchema, raw ?? {}, path, 'gate policy');
  const problems: string[] = [];
  const policy: GatePolicy = {
    path,
    name: file.name,
    description: file.description,
    block_if: [],
    warn_if: [],
    human_review_if: [],
    ship_to_staging_if: [],
  };
  for (const list of LISTS) {
    file[list].forEach((item, i) => {
      try {
        policy[list].push(toCondition(item));
      } catch (err) {
        if (!(err instanceof ConditionError)) throw err;
        problems.push(`${formatPath([list, i])}: ${err.message}`);
      }
    });
  }
  if (problems.length > 0) throw invalidFile(path, 'gate policy', problems);
  return policy;
}

function toCondition(item: z.output<typeof conditionItemSchema>): Condition {
  if (typeof item === 'string') return parseCondition(item);
  if ('when' in item) return parseCondition(item.when, item.reason);
  return makeCondition(item.fact, item.op, item.value, false, item.reason);
}

export interface GateOutcome {
  decision: Decision;
  humanReview: boolean;
  /** Ordered by severity: block reasons, then warn, human review, staging conditions not met. */
  reasons: string[];
  held: Record<Exclude<ListName, 'ship_to_staging_if'>, Condition[]>;
  /** ship_to_staging_if conditions that did not hold. */
  stagingUnmet: Condition[];
}

export function evaluatePolicy(policy: GatePolicy, facts: Facts): GateOutcome {
  const held = {
    block_if: policy.block_if.filter((c) => evaluateCondition(c, facts)),
    warn_if: policy.warn_if.filter((c) => evaluateCondition(c, facts)),
    human_review_if: policy.human_review_if.filter((c) => evaluateCondition(c, facts)),
  };
  const stagingUnmet = policy.ship_to_staging_if.filter((c) => !evaluateCondition(c, facts));
  const reasons = [
    ...held.block_if.map((c) => `block: ${explain(c, facts)}`),
    ...held.warn_if.map((c) => `warn: ${explain(c, facts)}`),
    ...held.human_review_if.map((c) => `human review: ${explain(c, facts)}`),
    ...stagingUnmet.map(
      (c) => `not ready for staging: ${c.text} does not hold (${c.fact} = ${String(facts[c.fact])})`,
    ),
  ];
  const humanReview = held.human_review_if.length > 0;
  const decision: Decision =
    held.block_if.length > 0
      ? 'block'
      : held.warn_if.length > 0 || humanReview || stagingUnmet.length > 0
        ? 'warn'
        : 'continue';
  return { decision, humanReview, reasons, held, stagingUnmet };
}

function explain(c: Condition, facts: Facts): string {
  const why = c.reason ?? FACTS[c.fact].description;
  const value = FACTS[c.fact].type === 'boolean' ? '' : ` (${c.fact} = ${String(facts[c.fact])})`;
  return `${c.text} — ${why}${value}`;
}
