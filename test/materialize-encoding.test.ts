/** COPY TEXT encoding and the exact row-line parser (pure; the database round trips are elsewhere). */
import { describe, expect, it } from 'vitest';
import { parseRowLine } from '../src/capsule/rows.js';
import { arrayLiteral, copyField, copyLine, escapeCopyText } from '../src/postgres/copy/copy-encoding.js';
import { withoutValues } from '../src/postgres/materialize/load-error.js';
import { LosslessNumber, stringifyExact } from '../src/util/exact-json.js';

const plain = { kind: 'plain' } as const;
const json = { kind: 'json' } as const;

describe('COPY TEXT encoding', () => {
  it('escapes backslash, newline, CR and tab; a `\\.` line and `\\N` text cannot be mistaken', () => {
    expect(escapeCopyText('a\\b\nc\rd\te')).toBe('a\\\\b\\nc\\rd\\te');
    expect(copyField('line\n\\.\nmore', plain)).toBe('line\\n\\\\.\\nmore');
    expect(copyField('\\N', plain)).toBe('\\\\N');
    expect(copyField(null, plain)).toBe('\\N');
    expect(copyField('', plain)).toBe('');
  });

  it('numbers keep their exact digits, booleans are t/f', () => {
    expect(copyField(new LosslessNumber('123456789012345678901234567890.1234567890'), plain)).toBe(
      '123456789012345678901234567890.1234567890',
    );
    expect(copyField(true, plain)).toBe('t');
    expect(copyField(false, plain)).toBe('f');
  });

  it('json/jsonb columns get the exact JSON text: a JSON string stays a string', () => {
    expect(copyField('123', json)).toBe('"123"');
    expect(copyField({ a: new LosslessNumber('1.10'), b: 'x\ty\\' }, json)).toBe(
      '{"a":1.10,"b":"x\\\\ty\\\\\\\\"}',
    );
    expect(copyField([1, null], json)).toBe('[1,null]');
  });

  it('arrays become array literals with every element quoted, NULL unquoted, nested arrays nested', () => {
    expect(
      arrayLiteral(['plain', 'a,b', 'say "hi"', '{braces}', null, '', 'back\\slash', 'NULL'], 'plain'),
    ).toBe('{"plain","a,b","say \\"hi\\"","{braces}",NULL,"","back\\\\slash","NULL"}');
    expect(
      arrayLiteral(
        [
          [1, 2],
          [3, null],
        ],
        'plain',
      ),
    ).toBe('{{"1","2"},{"3",NULL}}');
    expect(arrayLiteral([], 'plain')).toBe('{}');
    expect(arrayLiteral([{ a: 1 }, 'str'], 'json')).toBe('{"{\\"a\\":1}","\\"str\\""}');
    expect(arrayLiteral(['a;b', 'c'], 'plain', ';')).toBe('{"a;b";"c"}');
    // and the literal is then COPY-escaped as a whole
    expect(copyField(['x\ny'], { kind: 'array', element: 'plain', delimiter: ',' })).toBe('{"x\\ny"}');
  });

  it('a row line follows the column list; absent keys are not invented', () => {
    expect(copyLine({ b: 'x', a: 1 }, ['a', 'b'], [plain, plain])).toBe('1\tx\n');
  });
});

describe('row-line parsing', () => {
  it('keeps numbers JSON.parse would change, and is fast-path native otherwise', () => {
    const r = parseRowLine(
      '{"a":9007199254740993,"b":1.10,"c":1e400,"d":-0,"e":12,"f":"2024-01-15T09:30:00.1+00:00"}',
    );
    expect(stringifyExact(r)).toBe(
      '{"a":9007199254740993,"b":1.10,"c":1e400,"d":-0,"e":12,"f":"2024-01-15T09:30:00.1+00:00"}',
    );
    const simple = parseRowLine('{"id":1,"t":"12:00:00.5"}');
    expect(typeof simple.id).toBe('number');
  });
});

describe('error messages never carry row values', () => {
  it('drops the quoted value Postgres appends', () => {
    expect(withoutValues('invalid input syntax for type integer: "secret-42"')).toBe(
      'invalid input syntax for type integer: "…"',
    );
    expect(withoutValues('duplicate key value violates unique constraint "t_pkey"')).toBe(
      'duplicate key value violates unique constraint "t_pkey"',
    );
    // An out-of-range value is quoted inside the message (issue 15: it was printed in full).
    expect(withoutValues('value "99999999999" is out of range for type integer')).toBe(
      'value "…" is out of range for type integer',
    );
  });
});
