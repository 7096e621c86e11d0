import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../src/errors.js';
import { parseCondition } from '../src/gate/condition.js';
import { FACT_NAMES, FACTS } from '../src/gate/facts.js';
import { judgeTrace } from '../src/gate/judge-trace.js';
import { loadLoop } from '../src/gate/loop.js';
import { defaultPolicyPath, evaluatePolicy, loadPolicy } from '../src/gate/policy.js';
import { buildGolden } from '../src/judge/golden.js';
import { loadJudgesConfig, loadScenarios, type Scenario } from '../src/judge/loop.js';
import type { Trace } from '../src/trace/schema.js';
import { body, dbState, goodTrace, probe, traceWith } from './helpers/trace-fixture.js';

const loop = loadLoop();
const policy = loadPolicy();
const tmp = mkdtempSync(join(tmpdir(), 'gate-'));

function policyFile(name: string, text: string): string {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
}

function loadError(path: string): string {
  try {
    loadPolicy(path);
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return (err as Error).message;
  }
  throw new Error('expected the policy to fail to load');
}

describe('gate policy loading', () => {
  it('the shipped default policy loads from the package root', () => {
    expect(defaultPolicyPath()).toMatch(/loops[\\/]user-history-replay[\\/]gate\.yaml$/);
    expect(policy.block_if.length).toBeGreaterThan(5);
    expect(policy.name).toBe('user-history-replay');
  });

  it('an unknown fact fails to load, naming file, path and the known facts', () => {
    const p = policyFile(
      'unknown.yaml',
      'block_if:\n  - materialization_failed\n  - capsule_subjet_missing\n',
    );
    const msg = loadError(p);
    expect(msg).toContain(p);
    expect(msg).toContain('block_if[1]');
    expect(msg).toContain('unknown fact "capsule_subjet_missing"');
    expect(msg).toContain('known facts: ');
    expect(msg).toContain('capsule_subject_missing');
  });

  it('unknown facts in object form and every problem at once', () => {
    const p = policyFile(
      'many.yaml',
      [
        'warn_if:',
        '  - {fact: no_such_fact, op: "==", value: 0}',
        '  - graph_related_users',
        '  - graph_related_users === 0',
        'human_review_if:',
        '  - capsule_integrity == maybe',
      ].join('\n'),
    );
    const msg = loadError(p);
    expect(msg).toContain('(4 problems)');
    expect(msg).toContain('warn_if[0]: unknown fact "no_such_fact"');
    expect(msg).toContain('warn_if[1]: fact graph_related_users is a number');
    expect(msg).toContain('warn_if[2]: cannot parse');
    expect(msg).toContain('human_review_if[0]: fact capsule_integrity is a verdict');
  });

  it('unknown keys and bad YAML are errors with the file', () => {
    expect(loadError(policyFile('key.yaml', 'block_iff:\n  - materialization_failed\n'))).toMatch(
      /key\.yaml: invalid gate policy/,
    );
    expect(loadError(policyFile('syntax.yaml', 'block_if: [a\n  b: c\n'))).toMatch(
      /syntax\.yaml: invalid YAML at line \d+/,
    );
  });

  it('parses the small condition language strictly', () => {
    expect(parseCondition('graph_related_users == 0')).toMatchObject({
      fact: 'graph_related_users',
      op: '==',
      value: 0,
    });
    expect(parseCondition('not raw_export_requested')).toMatchObject({
      fact: 'raw_export_requested',
      negate: true,
    });
    expect(parseCondition('capsule_integrity != fail')).toMatchObject({ op: '!=', value: 'fail' });
    expect(() => parseCondition('materialization_failed and x')).toThrow(/cannot parse/);
    expect(() => parseCondition('graph_related_users > many')).toThrow(/not a number/);
    expect(() => parseCondition('not graph_related_users')).toThrow(/is a number/);
  });

  it('every fact has a type and a description (the list documents itself)', () => {
    for (const name of FACT_NAMES) {
      expect(['boolean', 'number', 'verdict']).toContain(FACTS[name].type);
      expect(FACTS[name].description.length).toBeGreaterThan(10);
    }
  });

  it('loop files are validated with file and path in the error', () => {
    const scen = policyFile(
      'scenarios.yaml',
      'version: 1\nscenarios:\n  - {id: a, title: A, risk: extreme, capsule: x.json, maxDurationSeconds: 10}\n  - {id: a, title: B, risk: low, capsule: {artifact: c}, maxDurationSeconds: 10}\n',
    );
    expect(() => loadScenarios(scen)).toThrow(/scenarios\.yaml: scenarios\[0\]\.risk: /);
    const dup = policyFile(
      'dup.yaml',
      'version: 1\nscenarios:\n  - {id: a, title: A, risk: low, capsule: x.json, maxDurationSeconds: 10}\n  - {id: a, title: B, risk: low, capsule: {artifact: c}, maxDurationSeconds: 10}\n',
    );
    expect(() => loadScenarios(dup)).toThrow(/dup\.yaml: scenarios\[1\]\.id: duplicate scenario a/);
    const judges = policyFile(
      'judges.yaml',
      'version: 1\njudges:\n  - {id: vibes, title: V, pass: a, warn: b, fail: c}\n',
    );
    expect(() => loadJudgesConfig(judges)).toThrow(
      /judges\.yaml: judges\[0\]\.id: must be one of capsule-integrity/,
    );
  });

  it('docs/judge.md documents every fact with its description', () => {
    const doc = readFileSync(new URL('../docs/judge.md', import.meta.url), 'utf8');
    // table cells may be padded by the formatter
    const rows = new Set(
      doc.split('\n').map((l) =>
        l
          .split('|')
          .map((c) => c.trim())
          .join('|'),
      ),
    );
    for (const name of FACT_NAMES)
      expect(rows.has(`|\`${name}\`|${FACTS[name].type}|${FACTS[name].description}|`), name).toBe(true);
  });

  it('the loop files load and the first scenario is the registered one', () => {
    const s = loop.scenarios[0]!;
    expect(s).toMatchObject({
      id: 'subject-graph-materializes',
      title: 'the subject graph exports and materializes locally',
      risk: 'high',
      maxDurationSeconds: 300,
      requiredFor: ['merge', 'release'],
    });
    expect(loop.judges.judges.map((j) => j.id)).toEqual([
      'capsule-integrity',
      'materialization-integrity',
      'no-external-side-effects',
      'golden-match',
      'duration',
      'database-state',
    ]);
    expect(loop.loop.hardConstraints.length).toBe(4);
  });
});

// ---------------------------------------------------------------------------------------------
// Every seeded condition of the default policy drives the expected decision.

interface Seed {
  condition: string;
  decision: 'block' | 'warn';
  humanReview?: boolean;
  trace: () => Trace;
  /** judge against a golden of this trace (default: no golden) */
  golden?: () => Trace;
  scenario?: Scenario;
}

const blessed = goodTrace();

const seeds: Seed[] = [
  {
    condition: 'capsule_missing',
    decision: 'block',
    trace: () =>
      traceWith((t) => {
        t.capsule = null;
      }),
  },
  {
    condition: 'capsule_subject_missing',
    decision: 'block',
    trace: () =>
      traceWith((t) => {
        t.capsule!.graph[0] = { key: { tenant_id: 't1', user_id: 'u9' }, reasons: ['author'] };
      }),
  },
  {
    condition: 'capsule_graph_missing',
    decision: 'block',
    trace: () =>
      traceWith((t) => {
        t.capsule!.tables = {};
      }),
  },
  {
    condition: 'materialization_failed',
    decision: 'block',
    trace: () =>
      traceWith((t) => {
        t.materialization = {
          status: 'failed',
          error: 'duplicate key value violates unique constraint',
          counts: [],
        };
        t.gate = { decision: 'block', reasons: ['materialization failed'] };
      }),
  },
  {
    condition: 'materialization_count_mismatch',
    decision: 'block',
    trace: () =>
      traceWith((t) => {
        t.materialization.counts[1]!.database = 2;
      }),
  },
  {
    condition: 'private_frontend_failed',
    decision: 'block',
    trace: () =>
      traceWith((t) => {
        probe(t, 'home').ok = false;
        probe(t, 'home').allowFailure = true;
      }),
  },
  {
    condition: 'real_external_publish_attempted',
    decision: 'block',
    trace: () =>
      traceWith((t) =>
        t.outbound.push({
          host: 'api.stripe.com',
          port: 443,
          method: 'POST',
          allowed: false,
          at: t.startedAt,
        }),
      ),
  },
  {
    condition: 'safe_export_contains_credentials',
    decision: 'block',
    humanReview: true, // capsule_findings > 0 also asks for a human
    trace: () =>
      traceWith((t) => {
        t.capsule!.findings = 2;
      }),
  },
  {
    condition: 'required_command_failed',
    decision: 'block',
    trace: () =>
      traceWith((t) => {
        probe(t, 'unit').ok = false;
        probe(t, 'unit').command!.exitCode = 1;
        t.gate = { decision: 'block', reasons: ['command unit failed'] };
      }),
  },
  {
    condition: 'required_probe_failed',
    decision: 'block',
    trace: () =>
      traceWith((t) => {
        probe(t, 'health').ok = false;
        probe(t, 'health').http!.status = 500;
      }),
  },
  {
    condition: 'required_probe_missing',
    decision: 'block',
    trace: goodTrace,
    scenario: { ...loop.scenarios[0]!, probes: ['health', 'checkout'] },
  },
  {
    condition: 'golden_mismatch',
    decision: 'block',
    golden: () => blessed,
    trace: () =>
      traceWith((t) => {
        body(t, 'me').name = 'Eve';
      }),
  },
  {
    condition: 'scenario_capsule_mismatch',
    decision: 'block',
    trace: goodTrace,
    scenario: { ...loop.scenarios[0]!, capsuleSha256: 'f'.repeat(64) },
  },
  {
    // A re-exported capsule with changed data: reported as such, not as an app regression.
    condition: 'golden_capsule_differs',
    decision: 'warn',
    golden: () => blessed,
    trace: () =>
      traceWith((t) => {
        t.capsule!.sha256 = 'b'.repeat(64);
        body(t, 'me').name = 'Eve';
      }),
  },
  {
    condition: 'run_gate_blocked',
    decision: 'block',
    humanReview: true, // nothing in the trace explains the block: the judges disagree
    trace: () =>
      traceWith((t) => {
        t.gate = { decision: 'block', reasons: ['something'] };
      }),
  },
  {
    condition: 'graph_related_users == 0',
    decision: 'warn',
    trace: () => traceWith((t) => void t.capsule!.graph.splice(1)),
  },
  {
    condition: 'interaction_tables_empty',
    decision: 'warn',
    trace: () =>
      traceWith((t) => {
        t.capsule!.tables.messages = 0;
        t.materialization.counts[2] = { table: 'messages', capsule: 0, database: 0, hashMatch: true };
      }),
  },
  {
    condition: 'external_host_reached',
    decision: 'warn',
    trace: () =>
      traceWith((t) =>
        t.outbound.push({ host: 'api.github.com', port: 443, method: 'GET', allowed: true, at: t.startedAt }),
      ),
  },
  {
    condition: 'golden_tolerated_difference',
    decision: 'warn',
    golden: () => blessed,
    trace: () =>
      traceWith((t) => {
        probe(t, 'version').command!.stdoutTail = 'socialnotes 1.2.4\n';
      }),
  },
  {
    condition: 'golden_new_fields',
    decision: 'warn',
    golden: () => blessed,
    trace: () =>
      traceWith((t) => {
        body(t, 'me').bio = 'new';
      }),
  },
  {
    condition: 'slower_than_golden',
    decision: 'warn',
    golden: () => blessed,
    trace: () =>
      traceWith((t) => {
        probe(t, 'me').durationMs = 2000;
      }),
  },
  {
    condition: 'over_time_budget',
    decision: 'warn',
    trace: () =>
      traceWith((t) => {
        t.durationMs = 400_000;
      }),
    scenario: loop.scenarios[0],
  },
  {
    condition: 'browser_failed_requests > 0',
    decision: 'warn',
    trace: () =>
      traceWith(
        (t) => void probe(t, 'home').browser!.failedRequests.push({ url: '/x.js', failure: 'net::ERR' }),
      ),
  },
  {
    condition: 'materialization_integrity == warn',
    decision: 'warn',
    trace: () =>
      traceWith((t) => {
        t.materialization.counts[0]!.database = null;
      }),
  },
  {
    condition: 'raw_export_requested',
    decision: 'warn',
    humanReview: true,
    trace: () =>
      traceWith((t) => {
        t.capsule!.redaction = 'raw';
      }),
  },
  {
    condition: 'capsule_findings > 0',
    decision: 'warn',
    humanReview: true,
    trace: () =>
      traceWith((t) => {
        t.capsule!.redaction = 'raw';
        t.capsule!.findings = 1;
      }),
  },
  {
    condition: 'write_outside_subject',
    decision: 'block',
    trace: () =>
      traceWith((t) => {
        t.databaseState = dbState({ users: { outside: [4, 4, 1] } });
      }),
  },
  {
    condition: 'database_changes_differ',
    decision: 'block',
    golden: () =>
      traceWith((t) => {
        t.databaseState = dbState({ posts: {} });
      }),
    trace: () =>
      traceWith((t) => {
        t.databaseState = dbState({ posts: { inGraph: [2, 3, 1] } });
      }),
  },
  {
    condition: 'database_state == warn',
    decision: 'warn',
    trace: () =>
      traceWith((t) => {
        t.databaseState = { ignoredTables: [], ignoredColumns: [], tables: [], error: 'after the probes: x' };
      }),
  },
  {
    condition: 'judge_disagreement',
    decision: 'block',
    humanReview: true,
    trace: () =>
      traceWith((t) => {
        t.gate = { decision: 'block', reasons: ['unexplained'] };
      }),
  },
];

function judgeSeed(s: Seed) {
  const golden = s.golden ? buildGolden({ trace: s.golden() }).golden : null;
  return judgeTrace({
    trace: s.trace(),
    golden,
    goldenPath: 'g.golden.json',
    policy,
    judges: loop.judges,
    scenario: s.scenario,
  });
}

describe('every seeded gate condition drives the expected decision', () => {
  it.each(seeds)('$condition → $decision', (s) => {
    const j = judgeSeed(s);
    expect(j.decision).toBe(s.decision);
    expect(j.humanReview).toBe(s.humanReview ?? false);
    const section =
      s.humanReview && s.decision === 'block' && s.condition === 'judge_disagreement' ? 'human review' : null;
    const held = j.reasons.filter((r) => r.includes(`: ${s.condition} — `));
    expect(held.length, `reasons: ${j.reasons.join(' | ')}`).toBeGreaterThan(0);
    if (section) expect(held[0]).toMatch(/^human review:/);
  });

  it('the table covers every block_if, warn_if and human_review_if condition of the default policy', () => {
    const seeded = new Set(seeds.map((s) => s.condition));
    const all = [...policy.block_if, ...policy.warn_if, ...policy.human_review_if].map((c) => c.text);
    // golden_screenshot_changed needs image files: covered in judge.test.ts (screenshots)
    const missing = all.filter((c) => !seeded.has(c) && c !== 'golden_screenshot_changed');
    expect(missing).toEqual([]);
  });

  it('a healthy trace continues; a skipped materialization is not ready for staging (warn)', () => {
    expect(judgeTrace({ trace: goodTrace(), policy, judges: loop.judges }).decision).toBe('continue');
    const j = judgeTrace({
      trace: traceWith((t) => {
        t.materialization = { status: 'skipped', counts: [] };
      }),
      policy,
      judges: loop.judges,
    });
    expect(j.decision).toBe('warn');
    expect(j.reasons).toEqual([
      'not ready for staging: materialization_integrity != skip does not hold (materialization_integrity = skip)',
    ]);
  });

  it('block wins over warn and human review; reasons are ordered by severity', () => {
    const t = traceWith((x) => {
      x.capsule!.redaction = 'raw';
      x.capsule!.graph.splice(1);
      x.materialization.counts[0]!.database = 1;
    });
    const j = judgeTrace({ trace: t, policy, judges: loop.judges });
    expect(j.decision).toBe('block');
    expect(j.humanReview).toBe(true);
    const kinds = j.reasons.map((r) => r.split(':')[0]);
    expect(kinds.indexOf('block')).toBeLessThan(kinds.indexOf('warn'));
    expect(kinds.indexOf('warn')).toBeLessThan(kinds.indexOf('human review'));
  });

  it('a custom policy decides with its own conditions', () => {
    const p = loadPolicy(
      policyFile(
        'custom.yaml',
        'warn_if:\n  - {fact: graph_related_users, op: "<", value: 5, reason: too few peers}\n',
      ),
    );
    const facts = judgeTrace({ trace: goodTrace(), policy, judges: loop.judges }).facts;
    const out = evaluatePolicy(p, facts as never);
    expect(out.decision).toBe('warn');
    expect(out.reasons).toEqual(['warn: graph_related_users < 5 — too few peers (graph_related_users = 1)']);
  });
});
