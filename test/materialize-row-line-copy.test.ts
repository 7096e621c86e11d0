import { describe, expect, it } from 'vitest';
import { parseRowLine } from '../src/capsule/rows.js';
import { type ColumnCodec, copyLine } from '../src/postgres/copy/copy-encoding.js';
import { copyLineFromScan, fastSegment, RowLineScanner } from '../src/postgres/copy/row-line-copy.js';

const plain: ColumnCodec = { kind: 'plain' };
const jsonb: ColumnCodec = { kind: 'json', jsonb: true };
const json: ColumnCodec = { kind: 'json', jsonb: false };
const textArray: ColumnCodec = { kind: 'array', element: 'plain', delimiter: ',' };

function members(text: string): [string, string][] | null {
  const scan = new RowLineScanner().scanRowLine(text);
  if (!scan) return null;
  const out: [string, string][] = [];
  for (let i = 0; i < scan.count; i++) {
    const s = scan.spans;
    out.push([text.slice(s[5 * i]!, s[5 * i + 1]!), text.slice(s[5 * i + 2]!, s[5 * i + 3]!)]);
  }
  return out;
}

/** The fast line for `text` with a segment made from `text` itself (null: object path). */
function fastLine(text: string, columns: string[], codecs: ColumnCodec[]): string | null {
  const scanner = new RowLineScanner();
  const scan = scanner.scanRowLine(text);
  if (!scan) return null;
  const seg = fastSegment(text, scan, columns, codecs);
  if (!seg) return null;
  return copyLineFromScan(text, scan, seg);
}

describe('RowLineScanner', () => {
  it('finds each top-level value span, skipping braces, quotes and escapes inside strings', () => {
    const line =
      '{"a":"x{y}[z]\\"q\\\\","b":{"n":[1,{"m":"}"}],"s":"\\u00e9"},"c":[[1,2],[]],"d":-1.5e+3,"e":null,"f":true,"g":false,"h":{}}';
    expect(members(line)).toEqual([
      ['"a"', '"x{y}[z]\\"q\\\\"'],
      ['"b"', '{"n":[1,{"m":"}"}],"s":"\\u00e9"}'],
      ['"c"', '[[1,2],[]]'],
      ['"d"', '-1.5e+3'],
      ['"e"', 'null'],
      ['"f"', 'true'],
      ['"g"', 'false'],
      ['"h"', '{}'],
    ]);
  });

  it('allows whitespace between tokens and an empty object', () => {
    expect(members(' { "a" : [ 1 , 2 ] , "b" : { } } ')).toEqual([
      ['"a"', '[ 1 , 2 ]'],
      ['"b"', '{ }'],
    ]);
    expect(members('{}')).toEqual([]);
  });

  it('accepts exactly what JSON.parse accepts', () => {
    const cases = [
      '{"a":1}',
      '{"a":01}',
      '{"a":1.}',
      '{"a":.5}',
      '{"a":-}',
      '{"a":1e}',
      '{"a":1E+2}',
      '{"a":-0}',
      '{"a":"\t"}',
      '{"a":"\\x"}',
      '{"a":"\\u12G4"}',
      '{"a":"\\u12"}',
      '{"a":"\\/\\b\\f\\n\\r\\t"}',
      '{"a":[1,]}',
      '{"a":[,1]}',
      '{"a":{"b":1,}}',
      '{"a":{"b"}}',
      '{"a":{1:2}}',
      '{"a":[1 2]}',
      '{"a":tru}',
      '{"a":nul}',
      '{"a":1,}',
      '{"a":1}}',
      '{"a":[1}',
      '{"a":{"b":[1]]}',
      '{"a":"unterminated}',
      '{"a":1} x',
      '[1]',
      '"s"',
      '{"a" 1}',
      '{a:1}',
      '{"a":[[[[{"b":[true,false,null,"]"]}]]]]}',
      '{"a":"é😀"}',
    ];
    for (const c of cases) {
      let ok = true;
      try {
        JSON.parse(c);
      } catch {
        ok = false;
      }
      const objectOk = ok && c.trim().startsWith('{');
      expect(members(c) !== null, c).toBe(objectOk);
    }
  });
});

describe('copyLineFromScan', () => {
  const columns = ['id', 'name', 'doc', 'flag', 'n'];
  const codecs = [plain, plain, jsonb, plain, plain];

  it('writes the same COPY line as the object path for simple rows', () => {
    const lines = [
      '{"id":1,"name":"a\\tb\\nc\\\\d\\u00e9","doc":{"x":[1,2.50,{"y":"a\\\\b\\"c\\n"}],"big":12345678901234567890},"flag":true,"n":null}',
      '{"id":-0,"name":"plain {text} [x]","doc":"str","flag":false,"n":1.5e-7}',
      '{"id":12345678901234567890,"name":"","doc":null,"flag":null,"n":0.1}',
      '{"id":2,"name":"x","doc":[true,false,null],"flag":true,"n":-3}',
      '{"id":3,"name":"\\"quoted\\"","doc":123.4500,"flag":true,"n":1E5}',
    ];
    for (const line of lines) {
      const fast = fastLine(line, columns, codecs);
      expect(fast, line).not.toBeNull();
      // The object path (jsonb text may differ in spelling; compare it as parsed JSON).
      const objectLine = copyLine(parseRowLine(line), columns, codecs);
      const f = fast!.split('\t');
      const o = objectLine.split('\t');
      expect([f[0], f[1], f[3], f[4]]).toEqual([o[0], o[1], o[3], o[4]]);
      if (f[2] === '\\N') expect(o[2]).toBe('\\N');
      else {
        const copyUnescape = (s: string) =>
          s.replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c === 't' ? '\t' : c === 'r' ? '\r' : c));
        // Same JSON value, exact digits preserved in the raw text.
        expect(JSON.parse(copyUnescape(f[2]!))).toEqual(JSON.parse(copyUnescape(o[2]!)));
        expect(copyUnescape(f[2]!)).toBe(line.match(/"doc":(.*),"flag"/)![1]);
      }
    }
  });

  it('maps keys to COPY column positions and skips keys not loaded', () => {
    const line = '{"zzz":"ignored","n":5,"id":7}';
    expect(fastLine(line, ['id', 'n'], [plain, plain])).toBe('7\t5\n');
  });

  it('declines rows the object path must handle', () => {
    // A JSON array for an array column, an object for a text column, escaped/structured json values.
    expect(fastLine('{"a":["x","y"]}', ['a'], [textArray])).toBeNull();
    expect(fastLine('{"a":{"b":1}}', ['a'], [plain])).toBeNull();
    expect(fastLine('{"a":{"b":1}}', ['a'], [json])).toBeNull();
    expect(fastLine('{"a":"\\u00e9"}', ['a'], [json])).toBeNull();
    // Duplicate keys: JSON.parse keeps the last one.
    expect(fastLine('{"a":1,"a":2}', ['a'], [plain])).toBeNull();
    // json keeps simple values; array columns take literal array text from strings.
    expect(fastLine('{"a":"x","b":2,"c":true}', ['a', 'b', 'c'], [json, json, json])).toBe('"x"\t2\ttrue\n');
    expect(fastLine('{"a":"{1,2}"}', ['a'], [textArray])).toBe('{1,2}\n');
  });

  it('declines a row whose keys differ from the segment (other keys or order)', () => {
    const scanner = new RowLineScanner();
    const first = '{"a":1,"b":2}';
    const seg = fastSegment(first, scanner.scanRowLine(first)!, ['a', 'b'], [plain, plain])!;
    const other = '{"b":2,"a":1}';
    expect(copyLineFromScan(other, scanner.scanRowLine(other)!, seg)).toBeNull();
    const more = '{"a":1,"b":2,"c":3}';
    expect(copyLineFromScan(more, scanner.scanRowLine(more)!, seg)).toBeNull();
    const same = '{"a":3,"b":"x\\ty"}';
    expect(copyLineFromScan(same, scanner.scanRowLine(same)!, seg)).toBe('3\tx\\ty\n');
  });
});
