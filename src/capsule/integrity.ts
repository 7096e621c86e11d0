/**
 * Content hashes for the capsule's `integrity` record.
 *
 * Per table: the sum, modulo 2^256, of sha256(text of each row). A sum does not depend on row
 * order, so the exporter can hash rows as they stream out and the materializer can hash the rows
 * in the target database in any order, each with constant memory. Two algorithms:
 *
 * - "replay-env.rows-sha256-sum.v1" (read only): the row's canonical JSON — object keys sorted by
 *   code unit, no whitespace, numbers exactly as written. Neither side has it without parsing.
 * - "replay-env.rows-sha256-sum.v2" (written since 0.4): the row's jsonb text, i.e. the UTF-8 of
 *   `to_jsonb(row)::text` exactly as Postgres prints it (keys ordered by byte length then bytes,
 *   `", "` and `": "` separators). The exporter hashes the line the server sent without parsing it
 *   (`jsonbText` renders the rows it changed, redacted or added, the same way), and the
 *   materializer has Postgres compute the sum (materialize/verify.ts): no row crosses the wire.
 */
import crypto, { createHash } from 'node:crypto';
import { isLosslessNumber } from '../util/exact-json.js';

export const INTEGRITY_ALGORITHM_V1 = 'replay-env.rows-sha256-sum.v1' as const;
export const INTEGRITY_ALGORITHM_V2 = 'replay-env.rows-sha256-sum.v2' as const;
/** What the exporter writes. */
export const INTEGRITY_ALGORITHM = INTEGRITY_ALGORITHM_V2;
export type IntegrityAlgorithm = typeof INTEGRITY_ALGORITHM_V1 | typeof INTEGRITY_ALGORITHM_V2;
const MOD = 1n << 256n;

/**
 * A row's (any JSON value's) text as Postgres' jsonb output prints it: object keys ordered by
 * UTF-8 byte length, then bytewise; `", "` between members and elements, `": "` after keys;
 * strings escaped like JSON.stringify (Postgres' escape_json escapes the same characters);
 * numbers in plain notation (numeric output).
 */
export function jsonbText(value: unknown): string {
  return renderJson(value, JSONB_STYLE);
}

interface JsonStyle {
  /** Between members and elements. */
  sep: string;
  /** After a key. */
  colon: string;
  keyOrder?: (a: string, b: string) => number;
}

/** The two text forms rows are hashed in: Postgres' jsonb output (v2) and canonical JSON (v1). */
function renderJson(value: unknown, style: JsonStyle): string {
  if (value === null || value === undefined) return 'null';
  if (isLosslessNumber(value)) return normalizeNumber((value as { value: string }).value);
  if (typeof value === 'number') return normalizeNumber(String(value));
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value)) return `[${value.map((v) => renderJson(v, style)).join(style.sep)}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).sort(style.keyOrder);
  return `{${keys.map((k) => `${JSON.stringify(k)}${style.colon}${renderJson(obj[k], style)}`).join(style.sep)}}`;
}

function jsonbKeyOrder(a: string, b: string): number {
  const la = Buffer.byteLength(a);
  const lb = Buffer.byteLength(b);
  return la !== lb ? la - lb : Buffer.compare(Buffer.from(a), Buffer.from(b));
}

const JSONB_STYLE: JsonStyle = { sep: ', ', colon: ': ', keyOrder: jsonbKeyOrder };
const CANONICAL_STYLE: JsonStyle = { sep: ',', colon: ':' };

/** How each algorithm renders a parsed row before hashing it. */
function rowRenderer(algorithm: IntegrityAlgorithm): (row: unknown) => string {
  return algorithm === INTEGRITY_ALGORITHM_V1 ? canonicalJson : jsonbText;
}

export function canonicalJson(value: unknown): string {
  return renderJson(value, CANONICAL_STYLE);
}

/** Number text as Postgres' jsonb prints it back: `1E+2`/`1e2` stay as the digits jsonb would show. */
function normalizeNumber(text: string): string {
  // Postgres renders jsonb numbers in plain notation (numeric output); exponent forms from other
  // writers are expanded so the same value hashes the same on both sides.
  if (!/[eE]/.test(text)) return text;
  const m = /^(-?)(\d+)(?:\.(\d+))?[eE]([+-]?\d+)$/.exec(text);
  if (!m) return text;
  const [, sign, int, frac = '', expText] = m;
  const exp = Number(expText);
  let digits = int! + frac;
  let point = int!.length + exp;
  if (point <= 0) {
    digits = '0'.repeat(1 - point) + digits;
    point = 1;
  }
  if (point >= digits.length) digits = digits + '0'.repeat(point - digits.length);
  const whole = digits.slice(0, point).replace(/^0+(?=\d)/, '');
  const rest = digits.slice(point);
  return `${sign}${whole}${rest ? `.${rest}` : ''}`;
}

/**
 * Sum of row sha256s modulo 2^256. The running sum is kept in 16-bit limbs held in doubles and
 * folded into a BigInt only every `foldEvery` rows (2^20 · 2^16 stays far below 2^53, so no
 * precision is lost): the exporter and the materializer hash every row on their hot paths.
 */
export class TableHasher {
  rows = 0;
  private limbs = new Float64Array(16); // limb 0 = most significant 16 bits
  private total = 0n;
  private sinceFold = 0;

  /**
   * `render`: how `add` turns a parsed row into the hashed text (default: v1's canonical JSON).
   * `foldEvery` must stay ≤ 2^36 rows (tests use a small value to exercise folding).
   */
  constructor(
    private readonly render: (row: unknown) => string = canonicalJson,
    private readonly foldEvery = 1 << 20,
  ) {}

  static for(algorithm: IntegrityAlgorithm): TableHasher {
    return new TableHasher(rowRenderer(algorithm));
  }

  add(row: unknown): void {
    this.addCanonical(this.render(row));
  }

  /** Hashes `text` as it is (the row's text in the algorithm's form). */
  addCanonical(text: string): void {
    const d = sha256(text);
    const l = this.limbs;
    for (let k = 0; k < 16; k++) l[k]! += (d[2 * k]! << 8) | d[2 * k + 1]!;
    this.rows++;
    if (++this.sinceFold >= this.foldEvery) this.fold();
  }

  private fold(): void {
    let v = 0n;
    for (let k = 0; k < 16; k++) v = (v << 16n) + BigInt(this.limbs[k]!);
    this.total = (this.total + v) % MOD;
    this.limbs.fill(0);
    this.sinceFold = 0;
  }

  digest(): string {
    this.fold();
    return this.total.toString(16).padStart(64, '0');
  }
}

const oneShot = (crypto as unknown as { hash?: (alg: string, data: string, enc: 'buffer') => Buffer }).hash;
function sha256(text: string): Buffer {
  return oneShot ? oneShot('sha256', text, 'buffer') : createHash('sha256').update(text, 'utf8').digest();
}

/** Hash over subject, graph and every table's hash, in a fixed order. */
export function contentHash(
  subject: unknown,
  graph: unknown,
  tables: Record<string, { rows: number; sha256: string }>,
): string {
  const h = createHash('sha256');
  h.update(canonicalJson(subject));
  h.update('\n');
  h.update(canonicalJson(graph));
  for (const name of Object.keys(tables).sort()) {
    h.update(`\n${name}:${tables[name]!.rows}:${tables[name]!.sha256}`);
  }
  return h.digest('hex');
}

/**
 * Hash of the capsule's `schema` section (canonical JSON), recorded as `integrity.schemaSha256`
 * and checked before `--create-schema` runs any of it.
 */
export function schemaSectionHash(schema: unknown): string {
  return createHash('sha256').update(canonicalJson(schema)).digest('hex');
}
