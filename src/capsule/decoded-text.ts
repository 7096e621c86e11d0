import type { Readable } from 'node:stream';

/**
 * A decoded (gunzipped / decrypted) capsule text read by byte ranges. A range at or after the
 * current position continues the open stream; an earlier one reopens it from the start.
 */
export class DecodedText {
  #stream: Readable | null = null;
  #iter: AsyncIterator<Buffer> | null = null;
  /** Text offset of `#pending[0]`, or of the stream's next chunk when nothing is pending. */
  #pos = 0;
  #pending: Buffer | null = null;
  #reader = 0;

  constructor(private readonly open: () => Promise<Readable>) {}

  /** The bytes [start, end), in chunks. One range is read at a time. */
  async *range(start: number, end: number): AsyncGenerator<Buffer> {
    const me = ++this.#reader;
    if (!this.#iter || this.#pos > start) await this.#reopen();
    while (this.#pos < end) {
      if (me !== this.#reader) throw new Error('capsule ranges read concurrently');
      const buf = this.#pending ?? ((await this.#iter!.next()).value as Buffer | undefined);
      this.#pending = null;
      if (!buf) return;
      const at = this.#pos;
      if (at + buf.length <= start) {
        this.#pos = at + buf.length;
        continue;
      }
      const to = Math.min(buf.length, end - at);
      if (to < buf.length) this.#pending = buf.subarray(to);
      this.#pos = at + to;
      yield buf.subarray(Math.max(0, start - at), to);
    }
  }

  async #reopen(): Promise<void> {
    this.close();
    this.#stream = await this.open();
    this.#iter = this.#stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    this.#pos = 0;
    this.#pending = null;
  }

  close(): void {
    this.#stream?.destroy();
    this.#stream = null;
    this.#iter = null;
  }
}
