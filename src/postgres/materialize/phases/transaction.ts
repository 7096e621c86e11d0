/**
 * The load's transaction and its connection: the context every phase works in (materialize-capsule.ts).
 *
 * It holds what a failure must undo or report: whether the transaction is open, the sequences as
 * they were (set back after a rollback, sequence-snapshot.ts), the foreign keys made deferrable
 * (restored before COMMIT, defer-fks.ts), what the load was doing (for a lost connection's
 * message) and the connection's own errors (a terminated backend sends its reason as one).
 *
 * Cancellation (`signal`): the running statement is cancelled (pg_cancel_backend from a second
 * connection; if that cannot connect, the session is closed and the server rolls back) and the
 * failure becomes an InterruptedError. Once COMMIT is sent the load completes.
 */
import type pg from 'pg';
import { FailureError, InputError, InterruptedError, ReplayError } from '../../../errors.js';
import { cancelBackend } from '../../cancel-query.js';
import { connect, describePgError, isConnectionLost } from '../../connect.js';
import { type DeferredForeignKey, restoreForeignKeys } from '../defer-fks.js';
import { describeLoadError, hasSqlState, withoutValues } from '../load-error.js';
import { restoreSequences, type SequenceState } from '../sequence-snapshot.js';
import type { MaterializeOptions } from '../types.js';
import type { CapsuleSource, LoadSettings } from './capsule-source.js';
import type { PhaseTimer } from './timer.js';

export function interrupted(cause?: unknown): InterruptedError {
  return new InterruptedError(
    'materialize interrupted; nothing was loaded: the transaction was rolled back and the target is unchanged',
    { cause },
  );
}

export class LoadTransaction {
  /** Errors the connection emitted (a terminated backend's reason comes as one). */
  readonly connectionErrors: unknown[] = [];
  readonly warnings: string[];
  inTransaction = false;
  /** Sequences as they were before the load: set back when it fails. */
  sequenceStates: SequenceState[] = [];
  /** Foreign keys made deferrable for the load: checked and restored before COMMIT. */
  deferredKeys: DeferredForeignKey[] = [];
  /** What the load is doing, for a lost connection's message. */
  doing = 'starting the transaction';
  /** Awaited before the client is closed, so the cancel can only reach this session. */
  #cancelling: Promise<void> | null = null;
  readonly #onAbort = () => {
    this.#cancelling = cancelRunningStatement(this.options.url, this.client);
  };

  private constructor(
    readonly options: MaterializeOptions,
    readonly settings: LoadSettings,
    readonly source: CapsuleSource,
    readonly timer: PhaseTimer,
    readonly client: pg.Client,
  ) {
    this.warnings = [...source.warnings];
    client.on('error', (e) => this.connectionErrors.push(e));
  }

  static async open(
    options: MaterializeOptions,
    settings: LoadSettings,
    source: CapsuleSource,
    timer: PhaseTimer,
  ): Promise<LoadTransaction> {
    const client = await connect(options.url, {
      role: 'replay target',
      applicationName: options.applicationName ?? 'replay-env materialize',
    });
    const tx = new LoadTransaction(options, settings, source, timer, client);
    timer.mark('connect');
    options.signal?.addEventListener('abort', tx.#onAbort, { once: true });
    return tx;
  }

  /** Throws an InterruptedError once the signal fired. */
  checkpoint(): void {
    if (this.options.signal?.aborted) throw interrupted();
  }

  /** The server's error among the connection's (for a load error whose own is a socket's). */
  serverError(): unknown {
    return this.connectionErrors.find(hasSqlState);
  }

  async begin(): Promise<void> {
    this.checkpoint();
    await this.client.query('begin');
    this.inTransaction = true;
  }

  /** Rolls back on purpose (`--explain`). */
  async rollBack(): Promise<void> {
    await this.client.query('rollback');
    this.inTransaction = false;
  }

  /** Deferred foreign keys checked and restored, then COMMIT (after which the load completes). */
  async commit(): Promise<void> {
    this.checkpoint();
    this.doing = 'checking foreign keys';
    await restoreForeignKeys(this.client, this.deferredKeys);
    this.timer.mark('constraints');
    this.checkpoint();
    // From here on the load completes: a COMMIT cut short would leave its outcome unknown.
    this.options.signal?.removeEventListener('abort', this.#onAbort);
    this.doing = 'committing';
    try {
      await this.client.query('commit');
      this.inTransaction = false;
    } catch (err) {
      this.inTransaction = false;
      if (isConnectionLost(err))
        throw new FailureError(
          `the connection to the replay target was lost during COMMIT (${lostReason(err, this.connectionErrors)}): the load may or may not have been committed; run materialize again (it replaces the subject's rows) once the server is reachable`,
          { cause: err },
        );
      await restoreSequences(this.client, this.sequenceStates);
      throw new FailureError(
        `COMMIT failed (a deferred constraint?): ${describeLoadError(err)}; the target is unchanged`,
        { cause: err },
      );
    }
    this.timer.mark('commit');
  }

  /** After a failure: rolls back, sets the sequences back and returns the error to throw. */
  async failed(err: unknown): Promise<unknown> {
    if (this.inTransaction) {
      await this.client.query('rollback').catch(() => {});
      await restoreSequences(this.client, this.sequenceStates);
    }
    if (this.options.signal?.aborted && this.doing !== 'committing') return interrupted(err);
    if (this.inTransaction && isConnectionLost(err))
      return new FailureError(
        `the connection to the replay target was lost while ${this.doing} (${lostReason(err, this.connectionErrors)}); the server rolls back the open transaction of a lost connection, so nothing was loaded and the target is unchanged. Run materialize again once the server is reachable`,
        { cause: err },
      );
    if (err instanceof FailureError || err instanceof InputError) return err;
    const reason = hasSqlState(err) ? err : (this.serverError() ?? err);
    return new FailureError(
      `materialize failed: ${describeLoadError(reason)}; the transaction was rolled back and the target is unchanged`,
      { cause: err },
    );
  }

  /** Closes the connection (after a cancel in flight, bounded). */
  async close(): Promise<void> {
    this.options.signal?.removeEventListener('abort', this.#onAbort);
    // Bounded: an unreachable server must not hold the interrupted command (the fallback of a
    // cancel that cannot connect is closing this session, done just below anyway).
    if (this.#cancelling) await Promise.race([this.#cancelling, delay(5000)]);
    await this.client.end().catch(() => {});
  }
}

/**
 * Cancels whatever `client` is running (cancel-query.ts; the session stays usable for ROLLBACK).
 * When the cancel cannot be sent the session is closed instead; the server rolls its
 * transaction back either way.
 */
async function cancelRunningStatement(url: string, client: pg.Client): Promise<void> {
  if (!(await cancelBackend(url, client, 'replay target'))) await client.end().catch(() => {});
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** The server's reason for a lost connection (with its SQLSTATE), else the socket's. */
function lostReason(err: unknown, connectionErrors: unknown[]): string {
  let root: unknown = err;
  while (root instanceof ReplayError && root.cause) root = root.cause;
  const reason = hasSqlState(root) ? root : (connectionErrors.find(hasSqlState) ?? root);
  const code = (reason as { code?: string }).code;
  if (hasSqlState(reason)) return `${withoutValues(describePgError(reason))} [SQLSTATE ${code}]`;
  // The server's goodbye (e.g. 57P01 on shutdown) can be lost when the socket is reset while we
  // are still sending COPY data.
  if (code === 'ECONNRESET' || code === 'EPIPE')
    return `the server closed the connection (${withoutValues(describePgError(reason))})`;
  return withoutValues(describePgError(reason));
}
