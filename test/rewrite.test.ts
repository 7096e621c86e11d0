import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCapsule } from '../src/capsule/reader.js';
import { normalizeFieldName, planSubjectRewrite, SubjectRewriter } from '../src/capsule/rewrite.js';
import type { Row } from '../src/capsule/schema.js';
import { ReplayError } from '../src/errors.js';
import type { Manifest } from '../src/manifest/schema.js';
import { requestedRewrite } from '../src/manifest/subject-rewrite.js';
import { LosslessNumber, parseExact, stringifyExact } from '../src/util/exact-json.js';
import { COMPAT_DIR, hasCompat } from './helpers/shared.js';

const KEYS = ['tenant_id', 'user_id'];
const SUBJECT = { tenant_id: 't-acme', user_id: 'u-alice' };
const LOCAL = { tenant_id: 'local-tenant', user_id: 'local-user' };

describe('subject rewrite rule', () => {
  it('normalizes field names: lower-case, non-alphanumerics removed', () => {
    expect(normalizeFieldName('senderUserId')).toBe('senderuserid');
    expect(normalizeFieldName('target_user_id')).toBe('targetuserid');
    expect(normalizeFieldName('User-ID')).toBe('userid');
  });

  it('replaces whole values in matching fields at any depth; arrays count under their parent key', () => {
    const r = new SubjectRewriter(planSubjectRewrite(KEYS, SUBJECT, LOCAL)!);
    const row = parseExact(
      '{"user_id":"u-alice","tenant_id":"t-acme","label":"u-alice","body":"hi u-alice","requester_tenant_id":"t-acme",' +
        '"settings":{"mentions":{"label":"u-alice","userId":"u-alice"},"owner":{"user_id":"u-bob","tenant_id":"t-acme"}},' +
        '"watcher_user_ids":["u-alice","u-bob",null],"list":[{"senderUserId":"u-alice","note":"u-alice"}],"n":1}',
    ) as Row;
    r.rewriteObject(row);
    expect(stringifyExact(row)).toBe(
      '{"user_id":"local-user","tenant_id":"local-tenant","label":"u-alice","body":"hi u-alice","requester_tenant_id":"local-tenant",' +
        '"settings":{"mentions":{"label":"u-alice","userId":"local-user"},"owner":{"user_id":"u-bob","tenant_id":"local-tenant"}},' +
        '"watcher_user_ids":["local-user","u-bob",null],"list":[{"senderUserId":"local-user","note":"u-alice"}],"n":1}',
    );
    expect(r.replaced).toBe(7);
  });

  it('numbers equal to the subject value are replaced too (integer subject keys)', () => {
    const r = new SubjectRewriter(
      planSubjectRewrite(['account_id'], { account_id: '42' }, { account_id: '7' })!,
    );
    const row = { account_id: new LosslessNumber('42'), parent_account_id: 42, other: 42 };
    r.rewriteObject(row as unknown as Row);
    expect(stringifyExact(row)).toBe('{"account_id":7,"parent_account_id":7,"other":42}');
  });

  it('a rewrite key that is not a subject key is an input error (exit 2); unchanged keys are dropped', () => {
    let err: unknown;
    try {
      planSubjectRewrite(KEYS, SUBJECT, { account_id: 'x' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ReplayError);
    expect((err as ReplayError).exitCode).toBe(2);
    expect((err as Error).message).toContain('"account_id" is not a subject key');
    expect(planSubjectRewrite(KEYS, SUBJECT, { user_id: 'u-alice' })).toBeNull();
    expect(planSubjectRewrite(KEYS, SUBJECT, { user_id: 'x' })).toEqual({
      from: { user_id: 'u-alice' },
      to: { user_id: 'x' },
    });
  });
});

describe.skipIf(!hasCompat)('subject rewrite reproduces expected.md on the original capsules', () => {
  async function rows(capsule: string) {
    const out: Record<string, Row[]> = {};
    const r = new SubjectRewriter(planSubjectRewrite(KEYS, SUBJECT, LOCAL)!);
    const scan = await readCapsule(join(COMPAT_DIR, capsule), (e) => {
      if (e.kind !== 'row') return;
      out[e.table] ??= [];
      out[e.table]!.push(r.rewriteObject(e.row));
    });
    const graph = scan.header.graph.map((g) => new SubjectRewriter(r.rewrite).rewriteObject({ ...g }));
    return { out, graph };
  }
  const byId = (list: Row[], id: string) => list.find((x) => stringifyExact(x.id) === id)!;

  it('raw capsule: the tenant moves for every user, only the subject user moves; labels and bodies do not', async () => {
    const { out, graph } = await rows('socialnotes.raw.json');
    expect(byId(out.profiles!, '2')).toMatchObject({ tenant_id: 'local-tenant', user_id: 'u-bob' });
    const alice = byId(out.profiles!, '1');
    expect(stringifyExact(alice.settings)).toContain('"mentions":{"label":"u-alice","userId":"local-user"}');
    expect(stringifyExact(byId(out.background_jobs!, '401').payload)).toContain(
      '"target_user_id":"local-user"',
    );
    expect(stringifyExact(byId(out.background_jobs!, '403').payload)).toContain(
      '"owner":{"user_id":"local-user","tenant_id":"local-tenant"}',
    );
    expect(byId(out.peer_links!, '105')).toMatchObject({
      target_user_id: 'local-user',
      requester_user_id: 'u-carol',
    });
    expect(out.chat_messages!.every((m) => !String(m.body).includes('local-'))).toBe(true);
    expect(byId(out.reactions!, '205')).toMatchObject({
      tenant_id: 't-globex',
      actor_tenant_id: 'local-tenant',
      actor_user_id: 'local-user',
    });
    // the graph keeps its order (not re-sorted after the rewrite)
    expect(graph.map((g) => `${g.tenant_id}/${g.user_id}`)).toEqual([
      'local-tenant/local-user',
      'local-tenant/u-bob',
      'local-tenant/u-carol',
      'local-tenant/u-dave',
      't-globex/u-frank',
      't-globex/u-ghost',
      't-globex/u-grâce',
      't-globex/u-heidi',
    ]);
  });

  it('safe capsule: hashed values are never rewritten', async () => {
    const { out } = await rows('socialnotes.safe.json');
    const conn = byId(out.provider_connections!, '301');
    expect(conn.account_id).toBe('replay-f3e459ba7407');
    expect(conn).toMatchObject({ tenant_id: 'local-tenant', user_id: 'local-user' });
  });
});

describe('the subject rewrite a front door asks for (one rule for run, materialize-postgres, the Action)', () => {
  // requestedRewrite reads only these two fields of the manifest.
  const manifest = { subjectKeys: KEYS, localSubject: LOCAL } as unknown as Manifest;
  const bare = { subjectKeys: KEYS } as unknown as Manifest;
  const inputError = (f: () => unknown): string => {
    try {
      f();
    } catch (err) {
      expect(err).toBeInstanceOf(ReplayError);
      expect((err as ReplayError).exitCode).toBe(2);
      return (err as Error).message;
    }
    throw new Error('expected an input error');
  };

  it('none asked: undefined; --use-local-subject first, each --rewrite-subject on top', () => {
    expect(requestedRewrite(manifest, 'app.json', {})).toBeUndefined();
    expect(
      requestedRewrite(manifest, 'app.json', { useLocalSubject: true, rewriteSubject: [['user_id', 'u-9']] }),
    ).toEqual({
      values: { tenant_id: 'local-tenant', user_id: 'u-9' },
      source: 'localSubject + --rewrite-subject',
    });
  });

  it('a key that is not a subject key, or a localSubject the manifest lacks, is bad input naming the option', () => {
    expect(
      inputError(() => requestedRewrite(manifest, 'app.json', { rewriteSubject: [['account_id', 'x']] })),
    ).toBe(
      '--rewrite-subject: "account_id" is not a subject key of app.json (subject keys: tenant_id, user_id)',
    );
    expect(inputError(() => requestedRewrite(bare, 'app.json', { useLocalSubject: true }))).toBe(
      '--use-local-subject: the manifest app.json has no localSubject',
    );
    // The Action names its inputs instead of the CLI's flags.
    const names = { useLocalSubject: 'input "use-local-subject"', rewriteSubject: 'input "rewrite-subject"' };
    expect(inputError(() => requestedRewrite(bare, 'app.json', { useLocalSubject: true }, names))).toMatch(
      /^input "use-local-subject": /,
    );
  });
});
