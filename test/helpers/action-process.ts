/**
 * Running the bundled Action (`node dist/index.js`) as a child process, the way the runner does:
 * inputs as INPUT_<NAME> (uppercased, spaces → `_`, hyphens kept), the GITHUB_* variables, an
 * event payload file, and GITHUB_OUTPUT / GITHUB_STEP_SUMMARY files that are read back.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';
import { watchChild } from './child.js';

export const DIST_ENTRY = fileURLToPath(new URL('../../dist/index.js', import.meta.url));

export interface ActionRun {
  code: number;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
  /** `::error::…` / `::warning …::…` workflow commands, decoded. */
  commands: { command: string; props: string; message: string }[];
}

export interface ActionRunOptions {
  inputs: Record<string, string>;
  eventName: string;
  payload: unknown;
  apiUrl: string;
  workspace: string;
  repository?: string;
  sha?: string;
  runId?: number;
  env?: Record<string, string>;
  timeoutMs?: number;
}

/** core.setOutput writes `name<<DELIM\nvalue\nDELIM`. */
export function parseOutputFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^([^<=]+)<<(.+)$/.exec(lines[i]!);
    if (!m) continue;
    const value: string[] = [];
    for (i++; i < lines.length && lines[i] !== m[2]; i++) value.push(lines[i]!);
    out[m[1]!] = value.join('\n');
  }
  return out;
}

function decode(s: string): string {
  return s
    .replace(/%0D/g, '\r')
    .replace(/%0A/g, '\n')
    .replace(/%3A/g, ':')
    .replace(/%2C/g, ',')
    .replace(/%25/g, '%');
}

/** Each run's scratch directory (event, outputs, summary, RUNNER_TEMP), removed after the file's tests. */
const runDirs: string[] = [];
afterAll(() => {
  for (const d of runDirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

export function runBundledAction(opts: ActionRunOptions): Promise<ActionRun> {
  if (!existsSync(DIST_ENTRY)) throw new Error(`${DIST_ENTRY} is missing: run \`npm run bundle\` first`);
  const dir = mkdtempSync(join(tmpdir(), 'action-run-'));
  runDirs.push(dir);
  const eventPath = join(dir, 'event.json');
  const outputPath = join(dir, 'output.txt');
  const summaryPath = join(dir, 'summary.md');
  writeFileSync(eventPath, JSON.stringify(opts.payload));
  writeFileSync(outputPath, '');
  writeFileSync(summaryPath, '');
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? dir,
    CI: 'true',
    GITHUB_ACTIONS: 'true',
    GITHUB_API_URL: opts.apiUrl,
    GITHUB_REPOSITORY: opts.repository ?? 'acme/shop',
    GITHUB_SHA: opts.sha ?? 'f'.repeat(40),
    GITHUB_RUN_ID: String(opts.runId ?? 4242),
    GITHUB_EVENT_NAME: opts.eventName,
    GITHUB_EVENT_PATH: eventPath,
    GITHUB_WORKSPACE: opts.workspace,
    GITHUB_OUTPUT: outputPath,
    GITHUB_STEP_SUMMARY: summaryPath,
    RUNNER_TEMP: join(dir, 'runner-temp'),
    ...opts.env,
  };
  for (const [name, value] of Object.entries(opts.inputs))
    env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value;
  const child = spawn(process.execPath, [DIST_ENTRY], {
    cwd: opts.workspace,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return watchChild(child, opts.timeoutMs ?? 120_000).exited.then(({ code, signal, stdout, stderr }) => ({
    code: code ?? (signal ? 128 : 1),
    stdout,
    stderr,
    outputs: parseOutputFile(readFileSync(outputPath, 'utf8')),
    summary: readFileSync(summaryPath, 'utf8'),
    commands: [...stdout.matchAll(/^::(error|warning|notice)( [^:]*)?::(.*)$/gm)].map((m) => ({
      command: m[1]!,
      props: m[2]?.trim() ?? '',
      message: decode(m[3]!),
    })),
  }));
}
