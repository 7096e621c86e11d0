import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../src/errors.js';
import { judgeTrace } from '../src/gate/judge-trace.js';
import { loadPolicy } from '../src/gate/policy.js';
import { IdBijection } from '../src/judge/diff.js';
import { buildGolden, readGolden, writeGolden } from '../src/judge/golden.js';
import { Normalizer } from '../src/judge/normalize.js';
import { PathRules, parseRule } from '../src/judge/paths.js';
import { readTrace } from '../src/judge/trace-file.js';
import { toPlain } from '../src/util/exact-json.js';
import { body, goodTrace, traceWith, writeTrace } from './helpers/trace-fixture.js';

describe('normalisers', () => {
  it('replaces timestamps, UUIDs and ULIDs, keeping id relationships', () => {
    const n = new Normalizer();
    const a = 'AB7D1C5E-1111-4222-8333-444455556666';
    expect(n.string(`user ${a.toLowerCase()} at 2024-05-06T07:08:09.123456+02:00`)).toBe(
      'user <uuid:1> at <timestamp>',
    );
    expect(n.string(a)).toBe('<uuid:1>'); // same id, any case → same placeholder
    expect(n.string('0b7e9c52-3d1a-4f6b-8c2d-9e8f7a6b5c4d')).toBe('<uuid:2>');
    expect(n.string('/posts/01HZX3K5M7N9P1Q3R5S7T9V1W3')).toBe('/posts/<ulid:1>');
    expect(n.string('2024-05-06 07:08:09.5+00')).toBe('<timestamp>');
    expect(n.string('2024-05-06T07:08Z')).toBe('<timestamp>');
    // dates without a time, version strings and plain words are data, not noise
    expect(n.string('born 1990-01-02, v1.2.3, HELLOWORLDHELLOWORLDHELLOW')).toBe(
      'born 1990-01-02, v1.2.3, HELLOWORLDHELLOWORLDHELLOW',
    );
  });

  it('the id mapping is one-to-one', () => {
    const ids = new IdBijection();
    expect(ids.bind(['uuid:1'], ['uuid:7'])).toBe(true);
    expect(ids.bind(['uuid:1'], ['uuid:7'])).toBe(true);
    expect(ids.bind(['uuid:1'], ['uuid:8'])).toBe(false); // golden id now points elsewhere
    expect(ids.bind(['uuid:2'], ['uuid:7'])).toBe(false); // two golden ids collapsed into one
    expect(ids.bind(['uuid:2'], ['uuid:9'])).toBe(true);
  });
});

describe('path rules', () => {
  it('match full paths, body-relative paths, wildcards and descendants', () => {
    const r = new PathRules(['$.items[*].updatedAt']);
    expect(r.covers(['probes', 'timeline', 'json', 'items', 3, 'updatedAt'])).toBe(true);
    expect(r.covers(['probes', 'timeline', 'json', 'items', 3, 'updatedAt', 'tz'])).toBe(true);
    expect(r.covers(['probes', 'timeline', 'json', 'items', 3, 'createdAt'])).toBe(false);
    expect(r.covers(['probes', 'timeline', 'text'])).toBe(false);
    const deep = new PathRules(['$..etag', '$.probes[*].body.meta', '$.probes["my probe"].status']);
    expect(deep.covers(['probes', 'a', 'json', 'x', 0, 'y', 'etag'])).toBe(true);
    expect(deep.covers(['probes', 'b', 'json', 'meta', 'page'])).toBe(true);
    expect(deep.covers(['probes', 'my probe', 'status'])).toBe(true);
    expect(deep.matches(['probes', 'b', 'json', 'meta', 'page'])).toBe(false); // exact only
  });

  it('reject malformed rules with a clear error', () => {
    expect(() => parseRule('items[*]')).toThrow(InputError);
    expect(() => parseRule('$.items[x]')).toThrow(/expected \[n\], \[\*\] or \["key"\]/);
  });
});

describe('exact numbers', () => {
  it('large integers in bodies are compared exactly (no float rounding)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'judge-exact-'));
    const write = (file: string, digits: string) => {
      const path = writeTrace(
        dir,
        file,
        traceWith((t) => {
          body(t, 'me').accountId = 0;
        }),
      );
      // put the exact digits into the JSON text (JSON.stringify could not)
      writeFileSync(path, readFileSync(path, 'utf8').replace('"accountId": 0', `"accountId": ${digits}`));
      return path;
    };
    const t1 = readTrace(write('t1.json', '9007199254740993'));
    const { path } = writeGolden(
      join(dir, 'g'),
      buildGolden({ trace: t1.trace, tracePath: t1.path }),
      t1.path,
    );
    expect(readFileSync(path, 'utf8')).toContain('"accountId": 9007199254740993');
    const golden = readGolden(path);
    const t2 = readTrace(write('t2.json', '9007199254740992'));
    const j = judgeTrace({ trace: t2.trace, golden, policy: loadPolicy() });
    expect(j.differences).toEqual([
      expect.objectContaining({
        path: '$.json.accountId',
        golden: '9007199254740993',
        actual: '9007199254740992',
        risk: 'fail',
      }),
    ]);
    const same = judgeTrace({ trace: t1.trace, golden, policy: loadPolicy() });
    expect(same.differences).toEqual([]);
  });

  it('a golden of the good trace round-trips through its file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'judge-rt-'));
    const built = buildGolden({ trace: goodTrace() });
    const { path } = writeGolden(dir, built, undefined);
    // numbers inside bodies and rows come back exact (LosslessNumber); as plain values they are equal
    expect(toPlain(readGolden(path).golden)).toEqual(JSON.parse(JSON.stringify(built.golden)));
  });
});

describe('annotations', () => {
  it('differences become annotations on the golden file at the probe line (inside the repo only)', () => {
    const repo = mkdtempSync(join(tmpdir(), 'judge-ann-'));
    const { path } = writeGolden(join(repo, 'golden', 'app'), buildGolden({ trace: goodTrace() }), undefined);
    const golden = readGolden(path);
    const trace = traceWith((t) => {
      body(t, 'me').name = 'Changed';
    });
    const j = judgeTrace({ trace, golden, policy: loadPolicy(), repoRoot: repo });
    expect(j.annotations).toHaveLength(1);
    const a = j.annotations[0]!;
    expect(a).toMatchObject({
      path: 'golden/app/subject-graph-materializes.golden.json',
      level: 'failure',
      title: 'me differs from the golden',
      // Annotations are public: fingerprints, never the values.
      message: expect.stringMatching(
        /^changed at \$\.json\.name: string\(3\) #[0-9a-f]{8} → string\(7\) #[0-9a-f]{8}$/,
      ),
    });
    expect(readFileSync(path, 'utf8').split('\n')[a.startLine - 1]).toBe('    "me": {');
    const outside = judgeTrace({ trace, golden, policy: loadPolicy(), repoRoot: join(repo, 'elsewhere') });
    expect(outside.annotations).toEqual([]);
  });
});
