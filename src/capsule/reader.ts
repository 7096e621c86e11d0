/**
 * Streaming capsule reader with bounded memory and exact numbers.
 *
 * The file is tokenised by stream-json's tokenizer (fed chunk by chunk, never the whole text) and
 * assembled here so that numbers become `LosslessNumber`s holding their exact text. Table rows
 * are yielded one at a time; everything else (subject, graph, window, integrity, …) is collected
 * into the header. Works on the original tool's capsules (whose `subject` comes after `tables`,
 * because it wrote keys in jsonb order) and on ours.
 */
import { getManyValues, isMany, none } from 'stream-chain/defs.js';
import { jsonParser, type Token } from 'stream-json/parser.js';
import { InputError } from '../errors.js';
import { type ExactJson, LosslessNumber } from '../util/exact-json.js';
import { issueLines, issuesError } from '../util/zod-issues.js';
import {
  duplicateKeyError,
  MAX_NESTING_DEPTH,
  MAX_ROW_BYTES,
  MAX_VALUE_BYTES,
  tooDeepError,
  tooLargeError,
  Utf8Stream,
  utf8Error,
} from './byte-check.js';
import { type OpenOptions, openCapsuleText } from './open.js';
import { assumeRedaction, type CapsuleHeader, capsuleHeaderSchema, type Row } from './schema.js';

export type CapsuleEvent =
  | { kind: 'tableStart'; table: string }
  | { kind: 'row'; table: string; index: number; row: Row }
  | { kind: 'tableEnd'; table: string; rows: number };

/**
 * Builds one JSON value from tokens; numbers stay exact. Refuses nesting deeper than `maxDepth`
 * containers, and a key repeated in one object: at any level for header values (`allLevels`),
 * at the row's own level for rows (repeated keys inside a json column's value are that value's).
 */
class ValueBuilder {
  private stack: (ExactJson[] | Record<string, ExactJson>)[] = [];
  private keys: (string | null)[] = [];
  done = false;
  value: ExactJson = null;

  constructor(
    private readonly maxDepth: number,
    private readonly errors: { duplicate(key: string): Error; tooDeep(): Error },
    private readonly allLevels: boolean,
  ) {}

  /** The key being read at the value's own level (a row's column). */
  get column(): string | null {
    return this.keys[0] ?? null;
  }

  /** Feed one token; returns true when the value is complete. */
  push(t: Token): boolean {
    switch (t.name) {
      case 'startObject':
        this.open({});
        return false;
      case 'startArray':
        this.open([]);
        return false;
      case 'endObject':
      case 'endArray': {
        const v = this.stack.pop()!;
        this.keys.pop();
        return this.save(v);
      }
      case 'keyValue':
        this.keys[this.keys.length - 1] = t.value;
        return false;
      case 'stringValue':
        return this.save(t.value);
      case 'numberValue':
        return this.save(new LosslessNumber(t.value));
      case 'nullValue':
        return this.save(null);
      case 'trueValue':
        return this.save(true);
      case 'falseValue':
        return this.save(false);
      default:
        return false;
    }
  }

  private open(container: ExactJson[] | Record<string, ExactJson>) {
    if (this.stack.length >= this.maxDepth) throw this.errors.tooDeep();
    this.stack.push(container);
    this.keys.push(null);
  }

  private save(v: ExactJson): boolean {
    const top = this.stack[this.stack.length - 1];
    if (!top) {
      this.value = v;
      this.done = true;
      return true;
    }
    if (Array.isArray(top)) top.push(v);
    else {
      const key = this.keys[this.keys.length - 1]!;
      if ((this.allLevels || this.stack.length === 1) && Object.hasOwn(top, key))
        throw this.errors.duplicate(key);
      // Own property even for "__proto__": row keys are column names and must not touch prototypes.
      Object.defineProperty(top, key, { value: v, enumerable: true, writable: true, configurable: true });
    }
    return false;
  }
}

/** Bytes of the text read so far, when a batch of tokens was produced. */
interface TokenBatch {
  tokens: Token[];
  /** Text bytes read up to the end of this batch. */
  offset: number;
  /** Bytes read since the parser last completed a token (one value can be no longer). */
  sinceToken: number;
}

/** Invalid UTF-8 at `offset`: readCapsule reports it with the table/row/column it is in. */
class BadUtf8 extends Error {
  constructor(readonly offset: number) {
    super('invalid UTF-8');
  }
}

/**
 * Token batches, one per chunk read: per-token async iteration would cost more than parsing.
 * Bytes become text through a fatal UTF-8 decoder (never U+FFFD); a chunk with a bad byte yields
 * the tokens before it, then throws BadUtf8 with the exact offset (isUtf8 finds it natively).
 */
async function* tokenBatches(path: string, options: OpenOptions): AsyncGenerator<TokenBatch> {
  const stream = await openCapsuleText(path, options);
  const utf8 = new Utf8Stream();
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  const parse = jsonParser({ packValues: true, streamValues: false });
  const emit = (out: unknown): Token[] => {
    if (out === none || out === undefined) return [];
    if (isMany(out)) return getManyValues(out) as Token[];
    return [out as Token];
  };
  let first = true;
  let bytes = 0;
  let sinceToken = 0;
  try {
    for await (const data of stream) {
      const chunk = data as Buffer;
      const bad = utf8.write(chunk, bytes);
      const valid = bad < 0 ? chunk : chunk.subarray(0, Math.max(0, bad - bytes));
      let text = decoder.decode(valid, { stream: true });
      bytes += chunk.length;
      if (first && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      first = false;
      const tokens = text ? emit(parse(text)) : [];
      // A chunk that completes no token continues one value (a string, a number, a key).
      sinceToken = tokens.length === 0 ? sinceToken + chunk.length : 0;
      if (tokens.length > 0 || bad >= 0 || sinceToken > MAX_VALUE_BYTES)
        yield { tokens, offset: bytes, sinceToken };
      if (bad >= 0) throw new BadUtf8(bad);
    }
    const bad = utf8.end(bytes);
    if (bad >= 0) throw new BadUtf8(bad);
    if (bytes === 0) throw new InputError(`${path}: empty file; a capsule is a JSON object`);
    const rest = decoder.decode();
    if (rest) yield { tokens: emit(parse(rest)), offset: bytes, sinceToken: 0 };
    yield { tokens: emit(parse(none as unknown as string)), offset: bytes, sinceToken: 0 };
  } catch (err) {
    if (err instanceof InputError || err instanceof BadUtf8) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'Z_DATA_ERROR' || code === 'Z_BUF_ERROR')
      throw new InputError(`${path}: corrupt gzip capsule (${(err as Error).message})`);
    if (code === 'ERR_ENCODING_INVALID_ENCODED_DATA')
      throw new InputError(`${path}: not valid UTF-8; a capsule is UTF-8 JSON`);
    throw new InputError(`${path}: not a valid capsule: invalid JSON (${(err as Error).message})`);
  } finally {
    stream.destroy();
  }
}

export interface ReadOptions extends OpenOptions {
  /** Do not build row objects, only count them (fast header scan). */
  skipRows?: boolean;
}

export interface CapsuleScan {
  header: CapsuleHeader;
  /** Row count per table, in file order. */
  counts: Record<string, number>;
}

type OnEvent = (e: CapsuleEvent) => void | Promise<void>;

/**
 * Streams a capsule: calls `onEvent` for every table start, row and table end, and returns the
 * validated header with per-table counts when the file ends. `onEvent` may be async (back-pressure).
 */
export async function readCapsule(
  path: string,
  onEvent: OnEvent | null,
  options: ReadOptions = {},
): Promise<CapsuleScan> {
  const capsule = new CapsuleAssembler(path, onEvent, options.skipRows === true);
  try {
    for await (const batch of tokenBatches(path, options)) {
      for (const t of batch.tokens) {
        const pending = capsule.token(t);
        if (pending) await pending;
      }
      capsule.endBatch(batch);
    }
  } catch (err) {
    if (err instanceof BadUtf8) throw utf8Error(path, err.offset, capsule.depth > 0 ? capsule.where() : null);
    throw err;
  }
  return capsule.result();
}

/**
 * Assembles the capsule from its tokens: header values are built whole, table rows one at a time
 * (or only counted and their keys checked, with `skipRows`).
 */
class CapsuleAssembler {
  // No prototypes: table names such as `__proto__` or `toString` are plain identifiers.
  readonly #header: Record<string, ExactJson> = Object.create(null);
  readonly #counts: Record<string, number> = Object.create(null);
  readonly #topKeys = new Set<string>();
  /** 0: before the top-level object; 1: top-level keys; 2: inside "tables"; 3: inside a table array. */
  depth = 0;
  #topKey: string | null = null;
  #table: string | null = null;
  #builder: ValueBuilder | null = null;
  /** Nesting inside a row being skipped (counted without building it). */
  #skipDepth = 0;
  #sawTables = false;
  // The limits of byte-check.ts, checked on tokens (the tokenizer already walks every byte).
  /** Text offset where the current batch began. */
  #batchStart = 0;
  /** Text offset (at batch granularity) where the current row began. */
  #rowStart = -1;
  // Skipped rows (scanCapsule): their keys, checked like RowLineChecker's template.
  #rowKeys: string[] = [];
  #prevKeys: string[] = [];
  #keySet: Set<string> | null = null;
  readonly #rowErrors = {
    duplicate: (key: string) => duplicateKeyError(this.path, this.#rowWhere(), key),
    tooDeep: () => tooDeepError(this.path, this.where()),
  };

  constructor(
    private readonly path: string,
    private readonly onEvent: OnEvent | null,
    private readonly skipRows: boolean,
  ) {}

  /** Feeds one token; returns a promise only when `onEvent` returned one. */
  token(t: Token): Promise<void> | undefined {
    if (this.#builder) return this.#valueToken(t);
    if (this.#skipDepth > 0) {
      this.#skippedRowToken(t);
      return;
    }
    switch (this.depth) {
      case 0:
        if (t.name !== 'startObject')
          throw new InputError(`${this.path}: not a valid capsule: expected a JSON object`);
        this.depth = 1;
        return;
      case 1:
        this.#topLevelToken(t);
        return;
      case 2:
        return this.#tablesToken(t);
      case 3:
        return this.#tableToken(t);
    }
  }

  /** After each batch of tokens: sizes, at chunk granularity (found before the value is held whole). */
  endBatch(batch: TokenBatch): void {
    if (batch.sinceToken > MAX_VALUE_BYTES)
      throw tooLargeError(this.path, this.where(), 'value', batch.offset);
    if (this.#rowStart >= 0 && batch.offset - this.#rowStart > MAX_ROW_BYTES)
      throw tooLargeError(this.path, this.where(), 'row', batch.offset);
    this.#batchStart = batch.offset;
  }

  /** The validated header and the counts, once the file ended. */
  result(): CapsuleScan {
    if (!this.#sawTables) throw new InputError(`${this.path}: not a valid capsule: tables: is required`);
    const parsed = capsuleHeaderSchema.safeParse(assumeRedaction(plainHeader(this.#header)));
    if (!parsed.success) {
      throw issuesError(this.path, 'not a valid capsule', issueLines(parsed.error));
    }
    return { header: parsed.data, counts: this.#counts };
  }

  /** Where the reader is, for an error: a row's column, a table, a top-level key. */
  where(): string {
    if (this.depth >= 2 && this.#table !== null) {
      if (this.depth === 3 && (this.#builder || this.#skipDepth > 0)) {
        const column = this.#builder
          ? this.#builder.column
          : (this.#rowKeys[this.#rowKeys.length - 1] ?? null);
        return column === null ? this.#rowWhere() : `${this.#rowWhere()}.${column}`;
      }
      return `tables.${this.#table}`;
    }
    return this.#topKey ?? '(top level)';
  }

  #rowWhere(): string {
    return `tables.${this.#table}[${this.#counts[this.#table!]}]`;
  }

  /** A token of a value being built (a header value or a row). */
  #valueToken(t: Token): Promise<void> | undefined {
    const builder = this.#builder!;
    if (!builder.push(t)) return;
    const v = builder.value;
    this.#builder = null;
    const table = this.#table;
    if (this.depth === 3 && table !== null) {
      this.#rowStart = -1;
      const index = this.#counts[table]!;
      this.#counts[table] = index + 1;
      if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof LosslessNumber) {
        throw new InputError(`${this.path}: tables.${table}[${index}]: must be a row object`);
      }
      return this.onEvent?.({ kind: 'row', table, index, row: v as Row }) || undefined;
    }
    if (this.depth === 1 && this.#topKey !== null) this.#header[this.#topKey] = v;
    return;
  }

  /** A token of a row counted without being built: nesting, and its own keys (duplicates). */
  #skippedRowToken(t: Token): void {
    if (t.name === 'startObject' || t.name === 'startArray') {
      if (++this.#skipDepth > MAX_NESTING_DEPTH + 1) throw tooDeepError(this.path, this.where());
    } else if (t.name === 'endObject' || t.name === 'endArray') this.#skipDepth--;
    else if (t.name === 'keyValue' && this.#skipDepth === 1) this.#skippedRowKey(t.value);
    if (this.#skipDepth === 0 && this.#table !== null) {
      this.#counts[this.#table]!++;
      this.#rowStart = -1;
      if (this.#keySet !== null) this.#prevKeys = this.#rowKeys;
      this.#rowKeys = [];
      this.#keySet = null;
    }
  }

  #skippedRowKey(key: string): void {
    const n = this.#rowKeys.length;
    this.#rowKeys.push(key);
    if (this.#keySet === null) {
      if (n < this.#prevKeys.length && this.#prevKeys[n] === key) return; // so far the last checked row's keys
      this.#keySet = new Set(this.#rowKeys.slice(0, n));
    }
    if (this.#keySet.has(key)) throw duplicateKeyError(this.path, this.#rowWhere(), key);
    this.#keySet.add(key);
  }

  /** Top level: a key, the end, `tables`' object, or the start of a header value. */
  #topLevelToken(t: Token): void {
    if (t.name === 'keyValue') {
      if (this.#topKeys.has(t.value))
        throw new InputError(`${this.path}: duplicate top-level key ${JSON.stringify(t.value)}`);
      this.#topKeys.add(t.value);
      this.#topKey = t.value;
    } else if (t.name === 'endObject') this.depth = 0;
    else if (this.#topKey === 'tables' && t.name === 'startObject') {
      this.depth = 2;
      this.#sawTables = true;
    } else {
      const where = this.#topKey;
      const { path } = this;
      this.#builder = new ValueBuilder(
        MAX_NESTING_DEPTH,
        {
          duplicate: (key) => new InputError(`${path}: ${where}: duplicate key ${JSON.stringify(key)}`),
          tooDeep: () => tooDeepError(path, String(where)),
        },
        true,
      );
      if (this.#builder.push(t)) {
        this.#header[this.#topKey!] = this.#builder.value;
        this.#builder = null;
      }
    }
  }

  /** Inside `tables`: a table's name, its array's start, or the end of `tables`. */
  #tablesToken(t: Token): Promise<void> | undefined {
    if (t.name === 'keyValue') {
      if (Object.hasOwn(this.#counts, t.value))
        throw new InputError(`${this.path}: tables.${t.value}: appears twice`);
      this.#table = t.value;
    } else if (t.name === 'startArray' && this.#table !== null) {
      this.depth = 3;
      this.#counts[this.#table] = 0;
      return this.onEvent?.({ kind: 'tableStart', table: this.#table }) || undefined;
    } else if (t.name === 'endObject') {
      this.depth = 1;
      this.#table = null;
    } else throw new InputError(`${this.path}: tables.${this.#table}: must be an array of rows`);
    return;
  }

  /** Inside a table's array: a row starts, or the array ends. */
  #tableToken(t: Token): Promise<void> | undefined {
    const table = this.#table!;
    if (t.name === 'endArray') {
      this.depth = 2;
      return this.onEvent?.({ kind: 'tableEnd', table, rows: this.#counts[table]! }) || undefined;
    }
    if (this.skipRows && (t.name === 'startObject' || t.name === 'startArray')) {
      this.#skipDepth = 1;
      this.#rowStart = this.#batchStart;
      return;
    }
    this.#builder = new ValueBuilder(MAX_NESTING_DEPTH + 1, this.#rowErrors, false);
    this.#rowStart = this.#batchStart;
    if (this.#builder.push(t)) {
      // A scalar where a row should be.
      throw new InputError(`${this.path}: tables.${table}[${this.#counts[table]}]: must be a row object`);
    }
    return;
  }
}

/** Header values are small; convert exact numbers to JS numbers for validation and display. */
export function plainHeader(v: unknown): unknown {
  if (v instanceof LosslessNumber) return Number(v.value);
  if (Array.isArray(v)) return v.map(plainHeader);
  if (v && typeof v === 'object')
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plainHeader(x)]));
  return v;
}

/** Header and counts only: one pass that skips building rows. */
export function scanCapsule(path: string, options: OpenOptions = {}): Promise<CapsuleScan> {
  return readCapsule(path, null, { ...options, skipRows: true });
}
