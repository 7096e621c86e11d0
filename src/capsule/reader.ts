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

/**
 * Streams a capsule: calls `onEvent` for every table start, row and table end, and returns the
 * validated header with per-table counts when the file ends. `onEvent` may be async (back-pressure).
 */
export async function readCapsule(
  path: string,
  onEvent: ((e: CapsuleEvent) => void | Promise<void>) | null,
  options: ReadOptions = {},
): Promise<CapsuleScan> {
  // No prototypes: table names such as `__proto__` or `toString` are plain identifiers.
  const header: Record<string, ExactJson> = Object.create(null);
  const counts: Record<string, number> = Object.create(null);
  const topKeys = new Set<string>();
  // depth 0: before the top-level object; 1: top-level keys; 2: inside "tables"; 3: inside a table array.
  let depth = 0;
  let topKey: string | null = null;
  let table: string | null = null;
  let builder: ValueBuilder | null = null;
  let skipDepth = 0; // when counting without building rows
  let sawTables = false;
  // The limits of byte-check.ts, checked on tokens (the tokenizer already walks every byte).
  let batchStart = 0; // text offset where the current batch began
  let rowStart = -1; // text offset (at batch granularity) where the current row began
  // Skipped rows (scanCapsule): their keys, checked like RowLineChecker's template.
  let rowKeys: string[] = [];
  let prevKeys: string[] = [];
  let keySet: Set<string> | null = null;

  const rowWhere = () => `tables.${table}[${counts[table!]}]`;
  const where = (): string => {
    if (depth >= 2 && table !== null) {
      if (depth === 3 && (builder || skipDepth > 0)) {
        const column = builder ? builder.column : (rowKeys[rowKeys.length - 1] ?? null);
        return column === null ? rowWhere() : `${rowWhere()}.${column}`;
      }
      return `tables.${table}`;
    }
    return topKey ?? '(top level)';
  };
  const rowErrors = {
    duplicate: (key: string) => duplicateKeyError(path, rowWhere(), key),
    tooDeep: () => tooDeepError(path, where()),
  };
  const skippedRowKey = (key: string) => {
    const n = rowKeys.length;
    rowKeys.push(key);
    if (keySet === null) {
      if (n < prevKeys.length && prevKeys[n] === key) return; // so far the last checked row's keys
      keySet = new Set(rowKeys.slice(0, n));
    }
    if (keySet.has(key)) throw duplicateKeyError(path, rowWhere(), key);
    keySet.add(key);
  };

  try {
    for await (const batch of tokenBatches(path, options)) {
      for (const t of batch.tokens) {
        if (builder) {
          if (builder.push(t)) {
            const v = builder.value;
            builder = null;
            if (depth === 3 && table !== null) {
              rowStart = -1;
              const index = counts[table]!;
              counts[table] = index + 1;
              if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof LosslessNumber) {
                throw new InputError(`${path}: tables.${table}[${index}]: must be a row object`);
              }
              if (onEvent) {
                const r = onEvent({ kind: 'row', table, index, row: v as Row });
                if (r) await r;
              }
            } else if (depth === 1 && topKey !== null) {
              header[topKey] = v;
            }
          }
          continue;
        }
        if (skipDepth > 0) {
          if (t.name === 'startObject' || t.name === 'startArray') {
            if (++skipDepth > MAX_NESTING_DEPTH + 1) throw tooDeepError(path, where());
          } else if (t.name === 'endObject' || t.name === 'endArray') skipDepth--;
          else if (t.name === 'keyValue' && skipDepth === 1) skippedRowKey(t.value);
          if (skipDepth === 0 && table !== null) {
            counts[table]!++;
            rowStart = -1;
            if (keySet !== null) prevKeys = rowKeys;
            rowKeys = [];
            keySet = null;
          }
          continue;
        }
        switch (depth) {
          case 0:
            if (t.name !== 'startObject')
              throw new InputError(`${path}: not a valid capsule: expected a JSON object`);
            depth = 1;
            break;
          case 1:
            if (t.name === 'keyValue') {
              if (topKeys.has(t.value))
                throw new InputError(`${path}: duplicate top-level key ${JSON.stringify(t.value)}`);
              topKeys.add(t.value);
              topKey = t.value;
            } else if (t.name === 'endObject') depth = 0;
            else if (topKey === 'tables' && t.name === 'startObject') {
              depth = 2;
              sawTables = true;
            } else {
              const where = topKey;
              builder = new ValueBuilder(
                MAX_NESTING_DEPTH,
                {
                  duplicate: (key) =>
                    new InputError(`${path}: ${where}: duplicate key ${JSON.stringify(key)}`),
                  tooDeep: () => tooDeepError(path, String(where)),
                },
                true,
              );
              if (builder.push(t)) {
                header[topKey!] = builder.value;
                builder = null;
              }
            }
            break;
          case 2:
            if (t.name === 'keyValue') {
              if (Object.hasOwn(counts, t.value))
                throw new InputError(`${path}: tables.${t.value}: appears twice`);
              table = t.value;
            } else if (t.name === 'startArray' && table !== null) {
              depth = 3;
              counts[table] = 0;
              if (onEvent) await onEvent({ kind: 'tableStart', table });
            } else if (t.name === 'endObject') {
              depth = 1;
              table = null;
            } else throw new InputError(`${path}: tables.${table}: must be an array of rows`);
            break;
          case 3:
            if (t.name === 'endArray') {
              if (onEvent) await onEvent({ kind: 'tableEnd', table: table!, rows: counts[table!]! });
              depth = 2;
            } else if (options.skipRows && (t.name === 'startObject' || t.name === 'startArray')) {
              skipDepth = 1;
              rowStart = batchStart;
            } else {
              builder = new ValueBuilder(MAX_NESTING_DEPTH + 1, rowErrors, false);
              rowStart = batchStart;
              if (builder.push(t)) {
                // A scalar where a row should be.
                throw new InputError(`${path}: tables.${table}[${counts[table!]}]: must be a row object`);
              }
            }
            break;
        }
      }
      // Sizes, at chunk granularity: found when crossed, before the value is held whole.
      if (batch.sinceToken > MAX_VALUE_BYTES) throw tooLargeError(path, where(), 'value', batch.offset);
      if (rowStart >= 0 && batch.offset - rowStart > MAX_ROW_BYTES)
        throw tooLargeError(path, where(), 'row', batch.offset);
      batchStart = batch.offset;
    }
  } catch (err) {
    if (err instanceof BadUtf8) throw utf8Error(path, err.offset, depth > 0 ? where() : null);
    throw err;
  }
  if (!sawTables) throw new InputError(`${path}: not a valid capsule: tables: is required`);
  const parsed = capsuleHeaderSchema.safeParse(assumeRedaction(plainHeader(header)));
  if (!parsed.success) {
    throw issuesError(path, 'not a valid capsule', issueLines(parsed.error));
  }
  return { header: parsed.data, counts };
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
