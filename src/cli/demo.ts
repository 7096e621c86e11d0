/**
 * `replay-env demo`: the whole loop on the embedded default (see demo/demo.ts). Exit 0 when the
 * decision is continue or warn, 1 when it blocks (or a step fails), 2 on bad input.
 */
import { relative } from 'node:path';
import { type DemoResult, type DemoStep, runDemo } from '../demo/demo.js';
import { type CliIO, printJson } from './context.js';
import type { RegisterCommand } from './registry.js';
import { waitUntilInterrupted } from './signals.js';

interface DemoFlags {
  outDir: string;
  keep?: boolean;
  json?: boolean;
}

const LABEL: Record<DemoStep['step'], string> = {
  production: 'production',
  export: 'export',
  'replay-db': 'replay db',
  run: 'run',
  judge: 'judge',
};

function show(io: CliIO, path: string): string {
  const rel = relative(io.cwd, path);
  return rel && !rel.startsWith('..') ? rel : path;
}

function summary(io: CliIO, r: DemoResult): string {
  const lines = [
    `decision: ${r.decision.toUpperCase()}`,
    ...r.reasons.map((x) => `  - ${x}`),
    `subject: ${Object.entries(r.subject)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ')}`,
    `capsule: ${show(io, r.capsule.path)} (${Object.entries(r.capsule.rows)
      .map(([t, n]) => `${t} ${n}`)
      .join(', ')})`,
  ];
  if (r.capsule.closure)
    for (const [t, c] of Object.entries(r.capsule.closure.tables))
      lines.push(
        `  closure: ${t} +${c.rows} (${Object.entries(c.reasons)
          .map(([k, n]) => `${k} ${n}`)
          .join(', ')})`,
      );
  lines.push(`trace: ${show(io, r.tracePath)}`);
  lines.push(`judgement: ${show(io, r.judgementPath)}`);
  lines.push(`golden: ${show(io, r.goldenPath)}`);
  lines.push(`total: ${(r.timings.total / 1000).toFixed(1)}s; nothing left running`);
  lines.push(`next: replay-env judge --trace ${show(io, r.tracePath)} --app ${show(io, r.manifestPath)}`);
  return `${lines.join('\n')}\n`;
}

export const registerDemo: RegisterCommand = (program, io, setExitCode) => {
  program
    .command('demo')
    .description(
      'Run the whole loop with nothing installed: embedded "production" → export → embedded replay → run → judge.',
    )
    .option('--out-dir <dir>', 'where the capsule, trace and judgement go', '.replay/demo')
    .option('--keep', 'keep the replay database running at the end (prints its URL; Ctrl-C stops it)')
    .option('--json', 'print a machine-readable result')
    .addHelpText(
      'after',
      '\nExit codes: 0 continue or warn, 1 block or a failed step, 2 bad input. See docs/zero-setup.md.',
    )
    .action(async (flags: DemoFlags) => {
      const result = await runDemo({
        outDir: flags.outDir,
        env: io.env,
        cwd: io.cwd,
        onStep: (s) => {
          if (!flags.json)
            io.stderr(`${LABEL[s.step].padEnd(10)} ${(s.ms / 1000).toFixed(1).padStart(5)}s  ${s.detail}\n`);
        },
        ...(flags.keep
          ? {
              hold: async (url: string) => {
                io.stderr(
                  `replay database kept at ${url}\npress Ctrl-C (or send SIGTERM) to stop and remove it\n`,
                );
                await waitUntilInterrupted();
              },
            }
          : {}),
      });
      if (flags.json) printJson(io, { kind: 'replay-env.demo', ...result });
      else io.stdout(summary(io, result));
      if (result.decision === 'block') setExitCode(1);
    });
};
