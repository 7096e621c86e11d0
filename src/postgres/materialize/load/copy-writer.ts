/** A COPY FROM STDIN stream with promise-based writes that surface the server's error. */
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { hasSqlState } from '../load-error.js';

export class CopyWriter {
  private readonly stream: ReturnType<typeof copyFrom>;
  private error: unknown = null;
  private readonly clientErrors: unknown[] = [];
  private readonly onClientError = (e: unknown) => this.clientErrors.push(e);

  constructor(
    private readonly client: pg.Client,
    sql: string,
  ) {
    this.stream = client.query(copyFrom(sql));
    this.stream.on('error', (e) => {
      this.error ??= e;
    });
    client.on('error', this.onClientError);
  }

  /** The most informative error: a server error (has a SQLSTATE) beats a socket error (EPIPE). */
  private best(err: unknown): unknown {
    const all = [this.error, err, ...this.clientErrors].filter(Boolean);
    return all.find(hasSqlState) ?? all[0];
  }

  async write(text: string): Promise<void> {
    if (this.error) throw this.best(this.error);
    try {
      if (!this.stream.write(text)) await once(this.stream, 'drain');
    } catch (err) {
      await settle();
      throw this.best(err);
    }
    if (this.error) throw this.best(this.error);
  }

  /** Cancels the COPY (CopyFail); the server rolls the statement back. */
  async abort(): Promise<void> {
    this.stream.destroy(new Error('materialize aborted'));
    await finished(this.stream).catch(() => {});
    this.client.removeListener('error', this.onClientError);
  }

  async end(): Promise<number> {
    try {
      this.stream.end();
      await finished(this.stream);
      if (this.error) throw this.error;
      return this.stream.rowCount;
    } catch (err) {
      await settle();
      throw this.best(err);
    } finally {
      this.client.removeListener('error', this.onClientError);
    }
  }
}

/** Give the socket a moment to deliver the server's ErrorResponse after a write failed. */
function settle(): Promise<void> {
  return new Promise((r) => setTimeout(r, 50));
}
