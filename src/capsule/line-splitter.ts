/**
 * Splitting capsule bytes into lines ("\n", not included), across chunk boundaries: the one line
 * splitter of capsule reading (the index pass and the row reader of rows.ts both use it).
 *
 * A line split across chunks is joined once at its end (linear in the line's size, not re-copied
 * per chunk), and the piece carried to the next chunk is copied so it does not pin the whole chunk.
 */

/** A line longer than this is also handed to `onLongLine` piece by piece, as it arrives. */
const LONG_LINE = 16 << 20;

/** Receives one line: `buf[start, end)`; `offset` is the line's byte offset in the whole text. */
type OnLine = (buf: Buffer, start: number, end: number, offset: number) => void;

/**
 * Sees the pieces of a line over LONG_LINE bytes as they arrive (`first` for its first piece;
 * `length` the line's bytes so far), so a huge row is refused before it is buffered whole.
 */
type OnLongLine = (piece: Buffer, lineOffset: number, first: boolean, length: number) => void;

export class LineSplitter {
  /** The pieces of the line carried over from earlier chunks, and their total length. */
  #carry: Buffer[] = [];
  #carryLength = 0;
  #long = false;
  /** Byte offset (in the whole text) of the next chunk. */
  #offset = 0;

  constructor(
    private readonly onLine: OnLine,
    private readonly onLongLine?: OnLongLine,
  ) {}

  /** Feeds the next chunk: `onLine` is called for every line it completes. */
  push(buf: Buffer): void {
    const base = this.#offset;
    this.#offset += buf.length;
    let pos = 0;
    if (this.#carryLength > 0) {
      // Finish the line split across chunks without copying the whole chunk.
      const nl = buf.indexOf(10);
      if (nl < 0) {
        this.#carryMore(buf, base - this.#carryLength);
        return;
      }
      pos = nl + 1;
      this.#finishCarried(buf.subarray(0, nl), base - this.#carryLength);
    }
    for (;;) {
      const nl = buf.indexOf(10, pos);
      if (nl < 0) break;
      this.onLine(buf, pos, nl, base + pos);
      pos = nl + 1;
    }
    if (pos < buf.length) {
      this.#carry = [Buffer.from(buf.subarray(pos))]; // do not pin the whole chunk
      this.#carryLength = buf.length - pos;
    }
  }

  /** The text ended: its last line (without a final "\n"), if any. */
  end(): void {
    if (this.#carryLength === 0) return;
    const parts = this.#carry;
    const line = parts.length === 1 ? parts[0]! : Buffer.concat(parts, this.#carryLength);
    this.#carry = [];
    this.#carryLength = 0;
    this.onLine(line, 0, line.length, this.#offset - line.length);
  }

  /** A whole chunk inside the carried line. */
  #carryMore(buf: Buffer, lineOffset: number): void {
    this.#carry.push(buf);
    this.#carryLength += buf.length;
    const onLongLine = this.onLongLine;
    if (!onLongLine || this.#carryLength <= LONG_LINE) return;
    if (this.#long) onLongLine(buf, lineOffset, false, this.#carryLength);
    else {
      this.#long = true;
      for (let i = 0; i < this.#carry.length; i++)
        onLongLine(this.#carry[i]!, lineOffset, i === 0, this.#carryLength);
    }
  }

  /** The carried line's last piece arrived: join it once and hand it over. */
  #finishCarried(tail: Buffer, lineOffset: number): void {
    if (this.#long) this.onLongLine!(tail, lineOffset, false, this.#carryLength + tail.length);
    this.#long = false;
    this.#carry.push(tail);
    const line = Buffer.concat(this.#carry, this.#carryLength + tail.length);
    this.#carry = [];
    this.#carryLength = 0;
    this.onLine(line, 0, line.length, lineOffset);
  }
}

/** The first byte in `[start, end)` that is not a space, tab or CR (`end` when none). */
export function firstNonSpace(buf: Buffer, start: number, end: number): number {
  while (start < end && (buf[start] === 32 || buf[start] === 9 || buf[start] === 13)) start++;
  return start;
}

/** The last byte in `[start, end)` that is not a space, tab or CR (`start - 1` when none). */
export function lastNonSpace(buf: Buffer, start: number, end: number): number {
  let e = end - 1;
  while (e >= start && (buf[e] === 32 || buf[e] === 9 || buf[e] === 13)) e--;
  return e;
}
