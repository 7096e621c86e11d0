/**
 * Reading `COPY (query) TO STDOUT` in text format, line by line as Postgres sends it. Field
 * decoding (copyUnescape) lives with the encoder in copy-encoding.ts.
 */
import { StringDecoder } from 'node:string_decoder';
import type pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { copyUnescape } from './copy-encoding.js';

/**
 * Splits COPY text-format output into unescaped lines, chunk by chunk. Postgres sends one
 * CopyData message per row, so a chunk is usually exactly one complete line: that case skips the
 * string decoder (a newline byte is never inside a UTF-8 sequence). Any other split works too.
 */
export class CopyLineSplitter {
  private rest = '';
  private atLineStart = true;
  private decoder = new StringDecoder('utf8');

  push(chunk: Buffer, onLine: (line: string) => void): void {
    const n = chunk.length;
    if (n === 0) return;
    if (this.atLineStart && chunk[n - 1] === 0x0a && chunk.indexOf(0x0a) === n - 1) {
      onLine(copyUnescape(chunk.toString('utf8', 0, n - 1)));
      return;
    }
    // A chunk ending in a newline leaves nothing behind in `rest` or the decoder.
    this.atLineStart = chunk[n - 1] === 0x0a;
    const text = this.rest + this.decoder.write(chunk);
    let start = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
      onLine(copyUnescape(text.slice(start, nl)));
      start = nl + 1;
    }
    this.rest = start === text.length ? '' : text.slice(start);
  }

  end(onLine: (line: string) => void): void {
    const rest = this.rest + this.decoder.end();
    this.rest = '';
    if (rest.length > 0) onLine(copyUnescape(rest));
  }
}

/**
 * Streams the lines of `COPY (query) TO STDOUT`, handled synchronously in 'data' events (an
 * await per row would cost more than the row itself); `afterChunk` returning a promise pauses
 * the stream until it settles (back-pressure from the writer reaches the server via the socket).
 */
export async function copyLines(
  client: pg.Client,
  query: string,
  onLine: (line: string) => void,
  afterChunk?: () => Promise<void> | null,
): Promise<void> {
  const stream = client.query(copyStreams.to(`copy (${query}) to stdout`));
  const splitter = new CopyLineSplitter();
  await new Promise<void>((resolve, reject) => {
    let failed = false;
    const fail = (err: unknown) => {
      if (failed) return;
      failed = true;
      stream.destroy();
      reject(err);
    };
    stream.on('data', (chunk: Buffer) => {
      if (failed) return;
      try {
        splitter.push(chunk, onLine);
        const wait = afterChunk?.();
        if (wait) {
          stream.pause();
          wait.then(() => stream.resume(), fail);
        }
      } catch (err) {
        fail(err);
      }
    });
    stream.on('error', fail);
    stream.on('end', () => {
      if (failed) return;
      try {
        splitter.end(onLine);
        resolve();
      } catch (err) {
        fail(err);
      }
    });
  });
}
