/**
 * Shell commands in their own process groups, with bounded output and a clean stop.
 *
 * Every command is spawned with `detached: true` under a small supervisor (supervisor.ts): the
 * supervisor leads a new process group and runs the shell inside it; everything the shell starts
 * (servers, `&` jobs, npm's children) inherits that group. Stopping a command signals the whole
 * group: SIGTERM, then SIGKILL after a grace period. A registry of live groups lets the front door
 * stop everything when `run` itself is interrupted, and the supervisor stops its group when `run`
 * dies without a chance to (kill -9).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { supervisedSpawn } from './supervisor.js';

/** Keeps the last `limit` characters of a stream (output can be unbounded; memory must not be). */
export class OutputTail {
  private chunks: string[] = [];
  private length = 0;
  totalBytes = 0;
  constructor(private readonly limit = 64 * 1024) {}

  push(chunk: string): void {
    this.totalBytes += Buffer.byteLength(chunk);
    this.chunks.push(chunk);
    this.length += chunk.length;
    while (this.length - (this.chunks[0]?.length ?? 0) >= this.limit && this.chunks.length > 1) {
      this.length -= this.chunks.shift()!.length;
    }
  }

  /** The last `max` characters. */
  text(max = this.limit): string {
    const all = this.chunks.join('');
    return all.length > max ? all.slice(all.length - max) : all;
  }
}

export interface ProcessResult {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  /** Stopped by `stop()` (abort, end of run) rather than exiting by itself. */
  stopped: boolean;
  durationMs: number;
  /** The shell could not be started at all. */
  spawnError?: string;
}

export interface StartOptions {
  command: string;
  /** Run this program with these arguments WITHOUT a shell (argv[0] is the program); else `sh -c command`. */
  argv?: string[];
  cwd: string;
  env: Record<string, string>;
  /** Stop the group after this long (undefined = no limit). */
  timeoutMs?: number;
  /** How long to wait between SIGTERM and SIGKILL (default 3 s). */
  graceMs?: number;
  tailChars?: number;
}

const live = new Set<ManagedProcess>();
let exitHookInstalled = false;

/**
 * Last line of defence: if this process exits while groups are still running (process.exit from
 * anywhere, an uncaught error), kill them synchronously — 'exit' handlers cannot wait, so SIGKILL.
 */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const p of live) signalGroup(p.pid, 'SIGKILL');
  });
}

/** Process groups started by this process that are still running. */
export function liveProcesses(): ManagedProcess[] {
  return [...live];
}

/** Stops every live process group (used on SIGINT/SIGTERM of `run` and at the end of a run). */
export async function stopAllProcesses(graceMs?: number): Promise<void> {
  await Promise.all([...live].map((p) => p.stop(graceMs)));
}

function signalGroup(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false; // ESRCH: nobody left in the group
  }
}

/**
 * True while any process of the group is still running. A zombie (exited, waiting for its new
 * parent — often a container's init — to reap it) does not count: it holds no resources and
 * cannot be signalled further. Without /proc, any existing member counts.
 */
export function groupAlive(pgid: number): boolean {
  if (!signalGroup(pgid, 0)) return false;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return true;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // "pid (comm) state ppid pgrp …" — comm may contain spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid && fields[0] !== 'Z') return true;
  }
  return false;
}

export class ManagedProcess {
  readonly stdout: OutputTail;
  readonly stderr: OutputTail;
  readonly pid: number;
  readonly startedAt = Date.now();
  /** Resolves when the shell has exited and its whole group has been stopped. */
  readonly done: Promise<ProcessResult>;
  private child: ChildProcess;
  private timedOut = false;
  private stopped = false;
  private exited = false;
  private stopping: Promise<void> | null = null;
  private timer: NodeJS.Timeout | undefined;
  private readonly graceMs: number;

  constructor(readonly options: StartOptions) {
    this.stdout = new OutputTail(options.tailChars);
    this.stderr = new OutputTail(options.tailChars);
    this.graceMs = options.graceMs ?? 3000;
    const argv = options.argv?.length ? options.argv : ['/bin/sh', '-c', options.command];
    // Under the supervisor (supervisor.ts): it leads the group and stops it if this process dies.
    const sup = supervisedSpawn(argv, options.env, this.graceMs);
    this.child = spawn(sup.file, sup.args, {
      cwd: options.cwd,
      env: sup.env,
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    // Never written to: its end-of-file is the supervisor's signal that `run` is gone.
    this.child.stdin?.on('error', () => {});
    this.pid = this.child.pid ?? 0;
    this.child.stdout?.setEncoding('utf8').on('data', (d: string) => this.stdout.push(d));
    this.child.stderr?.setEncoding('utf8').on('data', (d: string) => this.stderr.push(d));
    if (this.pid) {
      live.add(this);
      installExitHook();
    }
    this.done = new Promise<ProcessResult>((resolve) => {
      let spawnError: string | undefined;
      this.child.once('error', (err) => {
        spawnError = existsSync(options.cwd)
          ? err.message
          : `working directory ${options.cwd} does not exist`;
        if (!this.pid) finish(null, null);
      });
      // 'exit', not 'close': a grandchild holding stdout open must not keep us waiting.
      this.child.once('exit', (code, signal) => finish(code, signal));
      const finish = (code: number | null, signal: NodeJS.Signals | null) => {
        this.exited = true;
        clearTimeout(this.timer);
        // The shell is gone; whatever it left behind in its group goes too.
        void this.stopGroup().then(() => {
          live.delete(this);
          resolve({
            exitCode: code,
            signal,
            timedOut: this.timedOut,
            stopped: this.stopped,
            durationMs: Date.now() - this.startedAt,
            ...(spawnError ? { spawnError } : {}),
          });
        });
      };
    });
    if (options.timeoutMs !== undefined) {
      this.timer = setTimeout(() => {
        this.timedOut = true;
        void this.stopGroup();
      }, options.timeoutMs);
      this.timer.unref();
    }
  }

  get running(): boolean {
    return !this.exited;
  }

  /** Stops the group (TERM, then KILL after the grace period) and waits for the shell's exit. */
  async stop(graceMs?: number): Promise<ProcessResult> {
    if (!this.exited) this.stopped = true;
    await this.stopGroup(graceMs);
    return this.done;
  }

  private stopGroup(graceMs = this.graceMs): Promise<void> {
    if (!this.pid) return Promise.resolve();
    this.stopping ??= (async () => {
      if (!signalGroup(this.pid, 'SIGTERM')) return;
      const deadline = Date.now() + graceMs;
      while (Date.now() < deadline) {
        await sleep(50);
        if (!groupAlive(this.pid)) return;
      }
      signalGroup(this.pid, 'SIGKILL');
      // SIGKILL cannot be ignored; give the kernel a moment to reap.
      for (let i = 0; i < 40 && groupAlive(this.pid); i++) await sleep(25);
    })();
    return this.stopping;
  }
}

export function startProcess(options: StartOptions): ManagedProcess {
  return new ManagedProcess(options);
}

/** Runs a command to completion (or its timeout) and returns its result with output tails. */
export async function runProcess(
  options: StartOptions,
  signal?: AbortSignal,
): Promise<ProcessResult & { stdout: OutputTail; stderr: OutputTail }> {
  const p = startProcess(options);
  const onAbort = () => void p.stop();
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) onAbort();
  try {
    const r = await p.done;
    return { ...r, stdout: p.stdout, stderr: p.stderr };
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
