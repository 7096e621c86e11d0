/**
 * Streaming capsule reader with bounded memory and exact numbers.
 *
 * The file is tokenised by stream-json's tokenizer (fed chunk by chunk, never the whole text) and
 * assembled here so that numbers become `LosslessNumber`s holding their exact text. Table rows
 * are yielded one at a time; everything else (subject, graph, window, integrity, …) is collected
 * into the header. Works on the original tool's capsules (whose `subject` comes after `tables`,
 * because it wrote keys in jsonb order) and on ours.
 */
import { StringDecoder } from 'node:string_decoder';
import { getManyValues, isMany, none } from 'stream-chain/defs.js';
import { jsonParser, type Token } from 'stream-json/parser.js';
import { InputError } from '../errors.js';
import { type ExactJson, LosslessNumber } from '../util/exact-json.js';
import { issueLines } from '../util/zod-issues.js';
import { type OpenOptions, openCapsuleText } from './open.js';
import { type CapsuleHeader, capsuleHeaderSchema, type Row } from './schema.js';

export type CapsuleEvent =
  | { kind: 'tableStart'; table: string }
  | { kind: 'row'; table: string; index: number; row: Row }
  | { kind: 'tableEnd'; table: string; rows: number };

/** Builds one JSON value from tokens; numbers stay exact. */
class ValueBuilder {
  private stack: (ExactJson[] | Record<string, ExactJson>)[] = [];
  private keys: (string | null)[] = [];
  done = false;
  value: ExactJson = null;

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
      // Own property even for "__proto__": row keys are column names and must not touch prototypes.
      Object.defineProperty(top, key, { value: v, enumerable: true, writable: true, configurable: true });
    }
    return false;
  }
}

/** Token batches, one per chunk read: per-token async iteration would cost more than parsing. */
async function* tokenBatches(path: string, options: OpenOptions): AsyncGenerator<Token[]> {
  const stream = await openCapsuleText(path, options);
  const decoder = new StringDecoder('utf8');
  const parse = jsonParser({ packValues: true, streamValues: false });
  const emit = (out: unknown): Token[] => {
    if (out === none || out === undefined) return [];
    if (isMany(out)) return getManyValues(out) as Token[];
    return [out as Token];
  };
  let first = true;
  try {
    for await (const chunk of stream) {
      let text = decoder.write(chunk as Buffer);
      if (first && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      first = false;
      if (text) yield emit(parse(text));
    }
    const rest = decoder.end();
    if (rest) yield emit(parse(rest));
    yield emit(parse(none as unknown as string));
  } catch (err) {
    if (err instanceof InputError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'Z_DATA_ERROR' || code === 'Z_BUF_ERROR')
      throw new InputError(`${path}: corrupt gzip capsule (${(err as Error).message})`);
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
  const header: Record<string, ExactJson> = {};
  const counts: Record<string, number> = {};
  // depth 0: before the top-level object; 1: top-level keys; 2: inside "tables"; 3: inside a table array.
  let depth = 0;
  let topKey: string | null = null;
  let table: string | null = null;
  let builder: ValueBuilder | null = null;
  let skipDepth = 0; // when counting without building rows
  let sawTables = false;

  for await (const batch of tokenBatches(path, options))
    for (const t of batch) {
      if (builder) {
        if (builder.push(t)) {
          const v = builder.value;
          builder = null;
          if (depth === 3 && table !== null) {
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
        if (t.name === 'startObject' || t.name === 'startArray') skipDepth++;
        else if (t.name === 'endObject' || t.name === 'endArray') skipDepth--;
        if (skipDepth === 0 && table !== null) counts[table]!++;
        continue;
      }
      switch (depth) {
        case 0:
          if (t.name !== 'startObject')
            throw new InputError(`${path}: not a valid capsule: expected a JSON object`);
          depth = 1;
          break;
        case 1:
          if (t.name === 'keyValue') topKey = t.value;
          else if (t.name === 'endObject') depth = 0;
          else if (topKey === 'tables' && t.name === 'startObject') {
            depth = 2;
            sawTables = true;
          } else {
            builder = new ValueBuilder();
            if (builder.push(t)) {
              header[topKey!] = builder.value;
              builder = null;
            }
          }
          break;
        case 2:
          if (t.name === 'keyValue') table = t.value;
          else if (t.name === 'startArray' && table !== null) {
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
          } else {
            builder = new ValueBuilder();
            if (builder.push(t)) {
              // A scalar where a row should be.
              throw new InputError(`${path}: tables.${table}[${counts[table!]}]: must be a row object`);
            }
          }
          break;
      }
    }
  if (!sawTables) throw new InputError(`${path}: not a valid capsule: tables: is required`);
  const parsed = capsuleHeaderSchema.safeParse(plainHeader(header));
  if (!parsed.success) {
    throw new InputError(
      `${path}: not a valid capsule:\n${issueLines(parsed.error)
        .map((l) => `  ${path}: ${l}`)
        .join('\n')}`,
    );
  }
  return { header: parsed.data, counts };
}

/** Header values are small; convert exact numbers to JS numbers for validation and display. */
function plainHeader(h: Record<string, ExactJson>): Record<string, unknown> {
  const conv = (v: unknown): unknown => {
    if (v instanceof LosslessNumber) return Number(v.value);
    if (Array.isArray(v)) return v.map(conv);
    if (v && typeof v === 'object')
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, conv(x)]));
    return v;
  };
  return conv(h) as Record<string, unknown>;
}

/** Header and counts only: one pass that skips building rows. */
export function scanCapsule(path: string, options: OpenOptions = {}): Promise<CapsuleScan> {
  return readCapsule(path, null, { ...options, skipRows: true });
}
