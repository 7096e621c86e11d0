/** Phase timings of one materialize run (the result's `phases`, `--profile`). */
export class PhaseTimer {
  readonly started = performance.now();
  readonly #phases: Record<string, number> = {};
  #mark = this.started;

  /** Adds the time since the last mark to phase `name`. */
  mark(name: string): void {
    const now = performance.now();
    this.#phases[name] = (this.#phases[name] ?? 0) + (now - this.#mark);
    this.#mark = now;
  }

  set(name: string, ms: number): void {
    this.#phases[name] = ms;
  }

  /** The phases so far, in whole milliseconds. */
  rounded(): Record<string, number> {
    return Object.fromEntries(Object.entries(this.#phases).map(([k, v]) => [k, Math.round(v)]));
  }

  durationMs(): number {
    return Math.round(performance.now() - this.started);
  }
}
