/**
 * `replay-env judge --trace T`: run the judges, apply the gate policy, print the decision.
 * Exit 0 continue, 1 block, warn → 0 (or 1 with --warn-exit 1); 2 bad input.
 */
import { dirname, resolve } from 'node:path';
import { judgeTrace } from '../gate/judge-trace.js';
import { loadPolicy } from '../gate/policy.js';
import { baseBranchBaseline } from '../judge/base-branch.js';
import { renderJudgementMarkdown, renderJudgementText } from '../judge/markdown.js';
import { loadSetupGolden, resolveSetup } from '../judge/setup.js';
import { readTrace } from '../judge/trace-file.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { checkOutputTarget } from '../util/output-target.js';
import { oneOf } from './options.js';
import type { RegisterCommand } from './registry.js';

interface JudgeFlags {
  trace: string;
  golden?: string;
  policy?: string;
  scenario?: string;
  out?: string;
  format: 'text' | 'json' | 'markdown';
  json?: boolean;
  warnExit: '0' | '1';
  app?: string;
  loop?: string;
  showValues?: boolean;
  baselineTrace?: string[];
}

export const registerJudge: RegisterCommand = (program, io, setExitCode) => {
  program
    .command('judge')
    .description('Judge a trace against its golden and the gate policy: block / warn / continue.')
    .requiredOption('--trace <file>', 'the trace written by `replay-env run`')
    .option(
      '--golden <dir>',
      'directory of golden traces (default: manifest golden.dir, else golden/<appId>)',
    )
    .option('--policy <file>', 'gate policy YAML (default: loops/user-history-replay/gate.yaml)')
    .option('--scenario <id>', 'registered scenario (default: the trace’s scenario)')
    .option('--out <file>', 'write the judgement JSON here')
    .option(
      '--format <format>',
      'text | json | markdown',
      oneOf(['text', 'json', 'markdown'] as const),
      'text',
    )
    .option('--json', 'print the judgement as JSON (same as --format json)')
    .option('--warn-exit <code>', 'exit code for warn: 0 or 1', oneOf(['0', '1'] as const), '0')
    .option('--app <manifest>', 'the app manifest (golden noise rules, golden dir, policy)')
    .option('--loop <dir>', 'a loop folder with judges.yaml and scenarios.yaml (default: the shipped one)')
    .option(
      '--baseline-trace <file>',
      "judge against the base branch's trace of the same capsule instead of a golden (give it twice: two base runs learn noise and timing spread)",
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option(
      '--show-values',
      'text/markdown: print the differing values themselves instead of their fingerprints (never in public places)',
    )
    .action((flags: JudgeFlags) => {
      const loaded = readTrace(resolve(io.cwd, flags.trace));
      const setup = resolveSetup({ ...flags, cwd: io.cwd }, loaded.trace);
      const policy = loadPolicy(setup.policyPath);
      const base = flags.baselineTrace?.length
        ? baseBranchBaseline(flags.baselineTrace.map((p) => readTrace(resolve(io.cwd, p))))
        : null;
      const golden = base ? base.golden : loadSetupGolden(setup);
      const out = flags.out ? resolve(io.cwd, flags.out) : undefined;
      if (out)
        checkOutputTarget(out, '--out', [
          { label: 'trace', path: loaded.path },
          { label: 'golden', path: golden?.path },
          { label: 'gate policy', path: setup.policyPath },
          { label: 'manifest', path: setup.manifestPath },
        ]);
      const judgement = judgeTrace({
        trace: loaded.trace,
        tracePath: loaded.path,
        traceSha256: loaded.sha256,
        golden,
        goldenPath: setup.goldenPath,
        policy,
        manifest: setup.manifest,
        scenario: setup.scenario,
        judges: setup.judges,
        evidenceBase: out ? dirname(out) : undefined,
        repoRoot: io.cwd,
        ...(base ? { baselineMode: 'base-branch' as const, baselineNotes: base.notes } : {}),
      });
      if (out) writeFileAtomic(out, `${JSON.stringify(judgement, null, 2)}\n`, 'judgement');
      if (flags.json || flags.format === 'json') io.stdout(`${JSON.stringify(judgement, null, 2)}\n`);
      else if (flags.format === 'markdown')
        io.stdout(
          renderJudgementMarkdown(judgement, { fullJudgementRef: out, showValues: flags.showValues }),
        );
      else io.stdout(renderJudgementText(judgement, { showValues: flags.showValues }));
      if (judgement.decision === 'block') setExitCode(1);
      else if (judgement.decision === 'warn') setExitCode(Number(flags.warnExit));
    });
};
