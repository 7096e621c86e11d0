/**
 * Streaming capsule writer.
 *
 * Layout (one JSON document, readable by any version-1 reader):
 *
 *   {"schemaVersion":1,
 *   "app":"…",
 *   …metadata keys, one per line (graph entries one per line)…
 *   "tables":{
 *   "profiles":[
 *   {row},
 *   {row}
 *   ],
 *   "events":[]
 *   },
 *   "integrity":{…},
 *   …extension sections…
 *   }
 *
 * Every row is on its own line, so a line reader can stream rows without a JSON tokenizer.
 * Written to a temp file beside the target and renamed on `commit()`; `abort()` removes it, so a
 * failed export never leaves a capsule behind. Temp names are `.<name>.<pid>.<random>.tmp`
 * (util/atomic-file.ts): a killed exporter cannot remove its temp file, so `open()` removes the
 * ones whose process is gone. A write error (disk full, EFBIG) fails the export with the output
 * path and the OS error. `.gz` paths are gzip-compressed. With `encrypt`,
 * the (possibly compressed) bytes go through capsule/encryption.ts (compress, then encrypt; a
 * `.json.gz.enc` path is gzip-compressed too). The sha256 and size reported are of the bytes on disk.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, rmSync, type WriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { type Duplex, Transform, type TransformCallback } from 'node:stream';
import { createGzip, type Gzip } from 'node:zlib';
import { FailureError } from '../errors.js';
import { osReason, removeStaleTemps, tempPathFor } from '../util/atomic-file.js';
import { type CapsuleKey, createEncryptStream, type EncryptOptions } from './encryption.js';

const FLUSH_AT = 1 << 18; // bytes of pending text before handing it to the stream

export interface WriterOptions {
  /** gzip the output (default: when the path ends in `.gz`). */
  gzip?: boolean;
  /** zlib level (default 3: JSON compresses well even at low levels, and speed matters more). */
  gzipLevel?: number;
  /** Encrypt the output with this key (after compression). */
  encrypt?: CapsuleKey;
  encryptOptions?: EncryptOptions;
}

export interface WrittenCapsule {
  path: string;
  bytes: number;
  sha256: string;
  gzip: boolean;
  encrypted: boolean;
}

/** Counts and hashes the bytes that reach the file. */
class HashingPassThrough extends Transform {
  readonly hash = createHash('sha256');
  bytes = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    cb(null, chunk);
  }
}

type State = 'header' | 'tables' | 'table' | 'after' | 'closed';

export class CapsuleWriter {
  readonly path: string;
  readonly tempPath: string;
  readonly gzip: boolean;
  readonly encrypted: boolean;
  private file: WriteStream;
  private counter = new HashingPassThrough();
  private head: Gzip | Duplex;
  /** Every transform stage, head first (destroyed on abort). */
  private stages: Duplex[] = [];
  private pending: string[] = [];
  private pendingBytes = 0;
  private state: State = 'header';
  private firstKey = true;
  private firstTable = true;
  private firstRow = true;
  private failure: Error | null = null;
  /** Waiting for 'drain': released by a failure of any stage too (a dead file never drains). */
  private onFailure: ((err: Error) => void) | null = null;
  private finished: Promise<void>;
  /** Milliseconds spent waiting for the disk/gzip to accept data. */
  waitMs = 0;

  private constructor(path: string, options: WriterOptions) {
    this.path = resolve(path);
    this.gzip = options.gzip ?? /\.gz(\.enc)?$/.test(this.path);
    this.encrypted = options.encrypt !== undefined;
    this.tempPath = tempPathFor(this.path);
    this.file = createWriteStream(this.tempPath, { flags: 'wx', highWaterMark: 1 << 20 });
    const onError = (err: Error) => {
      this.failure ??= this.writeError(err);
      this.onFailure?.(this.failure);
    };
    this.file.on('error', onError);
    this.counter.on('error', onError);
    this.counter.pipe(this.file);
    // gzip → encrypt → counter → file: each stage is optional.
    let next: Duplex = this.counter;
    if (options.encrypt) {
      const enc = createEncryptStream(options.encrypt, options.encryptOptions);
      enc.on('error', onError);
      enc.pipe(next);
      next = enc;
      this.stages.push(enc);
    }
    if (this.gzip) {
      const gz = createGzip({ level: options.gzipLevel ?? 3, memLevel: 9, chunkSize: 1 << 16 });
      gz.on('error', onError);
      gz.pipe(next);
      next = gz;
      this.stages.push(gz);
    }
    this.head = next;
    this.finished = new Promise((res, rej) => {
      this.file.on('close', () => (this.failure ? rej(this.failure) : res()));
      this.file.on('error', rej);
    });
    this.finished.catch(() => {});
  }

  static async open(path: string, options: WriterOptions = {}): Promise<CapsuleWriter> {
    const dir = dirname(resolve(path));
    try {
      await mkdir(dir, { recursive: true });
    } catch (err) {
      throw new FailureError(
        `cannot write the capsule to ${resolve(path)}: cannot create the output directory ${dir}: ${osReason(err)}`,
      );
    }
    removeStaleTemps(path);
    const w = new CapsuleWriter(path, options);
    // If the process exits mid-export (process.exit, a fatal error), take the temp file along.
    process.on('exit', w.removeOnExit);
    await new Promise<void>((res, rej) => {
      w.file.once('open', () => res());
      w.file.once('error', (e) => rej(w.writeError(e)));
    });
    return w;
  }

  /** The output path and the OS error (the temp file is an implementation detail). */
  private writeError(err: Error): FailureError {
    if (err instanceof FailureError) return err;
    return new FailureError(
      `cannot write the capsule to ${this.path}: ${osReason(err)}; no capsule was written`,
      { cause: err },
    );
  }

  private readonly removeOnExit = (): void => {
    try {
      rmSync(this.tempPath, { force: true });
    } catch {
      // nothing more we can do while exiting
    }
  };

  private emit(text: string): void {
    this.pending.push(text);
    this.pendingBytes += text.length;
  }

  /** True when enough text is buffered that `flush()` would hand it to the stream. */
  needsFlush(): boolean {
    return this.pendingBytes >= FLUSH_AT || this.failure !== null;
  }

  /** Hands buffered text to the stream; waits when the stream is full (back-pressure). */
  async flush(force = false): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.pendingBytes === 0 || (!force && this.pendingBytes < FLUSH_AT)) return;
    const chunk = this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
    if (!this.head.write(chunk)) {
      const t = performance.now();
      await new Promise<void>((res, rej) => {
        const onDrain = () => {
          this.onFailure = null;
          res();
        };
        this.onFailure = (e) => {
          this.head.off('drain', onDrain);
          this.onFailure = null;
          rej(e);
        };
        this.head.once('drain', onDrain);
        if (this.failure) this.onFailure(this.failure);
      });
      this.waitMs += performance.now() - t;
    }
  }

  private key(name: string): void {
    this.emit(`${this.firstKey ? '{' : ',\n'}${JSON.stringify(name)}:`);
    this.firstKey = false;
  }

  /** A top-level key with an already-serialized JSON value (compact, no newlines needed). */
  writeSectionText(name: string, jsonText: string): void {
    if (this.state !== 'header' && this.state !== 'after')
      throw new Error(`writeSection in state ${this.state}`);
    this.key(name);
    this.emit(jsonText);
  }

  /** A top-level key with a plain JSON value (no exact numbers needed). */
  writeSection(name: string, value: unknown): void {
    this.writeSectionText(name, JSON.stringify(value));
  }

  /** A top-level array written one element per line (e.g. `graph`). */
  writeArraySection(name: string, items: unknown[]): void {
    this.key(name);
    if (items.length === 0) {
      this.emit('[]');
      return;
    }
    this.emit('[\n');
    this.emit(items.map((x) => JSON.stringify(x)).join(',\n'));
    this.emit('\n]');
  }

  beginTables(): void {
    if (this.state !== 'header') throw new Error('beginTables twice');
    this.key('tables');
    this.emit('{');
    this.state = 'tables';
  }

  beginTable(name: string): void {
    if (this.state !== 'tables') throw new Error(`beginTable in state ${this.state}`);
    this.emit(`${this.firstTable ? '\n' : ',\n'}${JSON.stringify(name)}:[`);
    this.firstTable = false;
    this.firstRow = true;
    this.state = 'table';
  }

  /** One row as JSON text (must not contain a raw newline: JSON text from jsonb never does). */
  writeRow(jsonText: string): void {
    this.emit(this.firstRow ? '\n' : ',\n');
    this.emit(jsonText);
    this.firstRow = false;
  }

  endTable(): void {
    if (this.state !== 'table') throw new Error('endTable without beginTable');
    this.emit(this.firstRow ? ']' : '\n]');
    this.state = 'tables';
  }

  endTables(): void {
    if (this.state !== 'tables') throw new Error(`endTables in state ${this.state}`);
    this.emit(this.firstTable ? '}' : '\n}');
    this.state = 'after';
  }

  /** Finishes the document, closes the file and renames it into place. */
  async commit(): Promise<WrittenCapsule> {
    if (this.state !== 'after') throw new Error(`commit in state ${this.state}`);
    this.emit('\n}\n');
    await this.flush(true);
    this.state = 'closed';
    try {
      this.head.end();
      await this.finished;
      await rename(this.tempPath, this.path);
    } catch (err) {
      await rm(this.tempPath, { force: true });
      throw this.writeError(err as Error);
    } finally {
      process.off('exit', this.removeOnExit);
    }
    return {
      path: this.path,
      bytes: this.counter.bytes,
      sha256: this.counter.hash.digest('hex'),
      gzip: this.gzip,
      encrypted: this.encrypted,
    };
  }

  /** Discards everything written so far; the target path is untouched. */
  async abort(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    process.off('exit', this.removeOnExit);
    this.pending = [];
    for (const t of this.stages) {
      t.unpipe();
      t.destroy();
    }
    this.counter.destroy();
    this.file.destroy();
    await new Promise((r) => setImmediate(r));
    await rm(this.tempPath, { force: true });
  }
}
