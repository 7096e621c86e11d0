import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sortKeys } from '../src/judge/golden.js';
import { judgementSchema } from '../src/judge/schema.js';
import { cli } from './helpers/cli.js';
import { body, goodTrace, probe, traceWith, USER_ID, writeTrace } from './helpers/trace-fixture.js';

const LOCAL = { CI: 'false' };

function work() {
  return mkdtempSync(join(tmpdir(), 'bless-'));
}

/** A run of the same build with nondeterministic bits: a random score, a request id, an order. */
function runOfSameBuild(seed: number) {
  return traceWith((t) => {
    body(t, 'health').uptimeSeconds = 1000 + seed;
    body(t, 'timeline').items[0].score = seed * 0.37;
    body(t, 'timeline').requestId = `req-${seed}`;
  });
}

describe('replay-env bless', () => {
  it('writes a normalised, sorted-keys golden with provenance', async () => {
    const dir = work();
    const trace = writeTrace(dir, 'run.trace.json', goodTrace());
    const r = await cli(['bless', '--trace', trace, '--golden', join(dir, 'golden')], { env: LOCAL });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const file = join(dir, 'golden', 'subject-graph-materializes.golden.json');
    expect(r.stdout).toContain(`wrote golden ${file}`);
    const text = readFileSync(file, 'utf8');
    const g = JSON.parse(text);
    expect(`${JSON.stringify(sortKeys(g), null, 2)}\n`).toBe(text); // sorted keys, 2-space indent
    expect(g.provenance).toMatchObject({
      tool: 'replay-env',
      toolVersion: '0.4.0',
      gitCommit: '0123456789abcdef0123456789abcdef01234567',
      capsuleSha256: 'a'.repeat(64),
      sourceTrace: 'run.trace.json',
    });
    expect(Date.parse(g.provenance.createdAt)).not.toBeNaN();
    expect(text).not.toContain(USER_ID); // ids are placeholders
    expect(g.probes.me.json.id).toBe('<uuid:1>');
    expect(g.probes.timeline.json.owner).toBe('<uuid:1>');
    expect(g.probes.health.json.checkedAt).toBe('<timestamp>');
    expect(g.durations.probes.me).toBe(40);
    expect(g.noise).toEqual([]);
  });

  it('two traces of one build teach the noise, and a third run passes', async () => {
    const dir = work();
    const t1 = writeTrace(dir, 't1.json', runOfSameBuild(1));
    const t2 = writeTrace(dir, 't2.json', runOfSameBuild(2));
    const t3 = writeTrace(dir, 't3.json', runOfSameBuild(3));
    const golden = join(dir, 'golden');

    // Without learned noise the third run differs from a golden of the first.
    expect((await cli(['bless', '--trace', t1, '--golden', golden], { env: LOCAL })).code).toBe(0);
    expect((await cli(['judge', '--trace', t3, '--golden', golden])).code).toBe(1);

    const r = await cli(['bless', '--trace', t1, '--second-trace', t2, '--golden', golden, '--json'], {
      env: LOCAL,
    });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.learned).toEqual([
      '$.probes.health.json.uptimeSeconds',
      '$.probes.timeline.json.items[*].score',
      '$.probes.timeline.json.requestId',
    ]);
    expect(out.replaced).toBe(true);
    const g = JSON.parse(readFileSync(out.path, 'utf8'));
    expect(g.noise).toEqual(out.learned);
    expect(g.provenance.secondTrace).toBe('t2.json');

    const j = await cli(['judge', '--trace', t3, '--golden', golden, '--format', 'json']);
    expect(j.code).toBe(0);
    expect(JSON.parse(j.stdout).decision).toBe('continue');

    // …while a real change is still caught.
    const t4 = writeTrace(
      dir,
      't4.json',
      traceWith((t) => {
        body(t, 'timeline').items[0].text = 'edited';
      }, runOfSameBuild(4)),
    );
    expect((await cli(['judge', '--trace', t4, '--golden', golden])).code).toBe(1);
  });

  it('an outcome that differs between the two traces is reported as flaky, not learned', async () => {
    const dir = work();
    const t1 = writeTrace(
      dir,
      't1.json',
      traceWith((t) => {
        probe(t, 'health').allowFailure = true;
      }),
    );
    const t2 = writeTrace(
      dir,
      't2.json',
      traceWith((t) => {
        probe(t, 'health').allowFailure = true;
        probe(t, 'health').ok = false;
        probe(t, 'health').http!.status = 503;
      }),
    );
    const r = await cli(
      ['bless', '--trace', t1, '--second-trace', t2, '--golden', join(dir, 'g'), '--json'],
      {
        env: LOCAL,
      },
    );
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.noise).not.toContain('$.probes.health.status');
    expect(out.notes.join('\n')).toMatch(/\$\.probes\.health\.status differs .* flaky/);
  });

  it('refuses a trace whose own gate is block, writing nothing', async () => {
    const dir = work();
    const trace = writeTrace(
      dir,
      'bad.json',
      traceWith((t) => {
        t.gate = { decision: 'block', reasons: ['command unit failed'] };
      }),
    );
    const r = await cli(['bless', '--trace', trace, '--golden', join(dir, 'golden')], { env: LOCAL });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/refusing to bless a trace whose own gate is block \(command unit failed\)/);
    expect(existsSync(join(dir, 'golden'))).toBe(false);
  });

  it('refuses in CI unless --force', async () => {
    const dir = work();
    const trace = writeTrace(dir, 'run.json', goodTrace());
    const golden = join(dir, 'golden');
    const refused = await cli(['bless', '--trace', trace, '--golden', golden], { env: { CI: 'true' } });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/refusing to write a golden in CI/);
    expect(existsSync(golden)).toBe(false);
    const forced = await cli(['bless', '--trace', trace, '--golden', golden, '--force'], {
      env: { CI: 'true' },
    });
    expect(forced.code).toBe(0);
    expect(existsSync(join(golden, 'subject-graph-materializes.golden.json'))).toBe(true);
  });

  it('refuses a second trace from another build', async () => {
    const dir = work();
    const t1 = writeTrace(dir, 't1.json', goodTrace());
    const t2 = writeTrace(
      dir,
      't2.json',
      traceWith((t) => {
        t.environment.gitCommit = 'f'.repeat(40);
      }),
    );
    const r = await cli(['bless', '--trace', t1, '--second-trace', t2, '--golden', join(dir, 'g')], {
      env: LOCAL,
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/SAME build/);
  });
});

describe('replay-env judge (CLI)', () => {
  it('exit 0 continue, 1 block; warn is 0 by default and 1 with --warn-exit 1', async () => {
    const dir = work();
    const golden = join(dir, 'golden');
    const good = writeTrace(dir, 'good.json', goodTrace());
    expect((await cli(['bless', '--trace', good, '--golden', golden], { env: LOCAL })).code).toBe(0);

    const ok = await cli(['judge', '--trace', good, '--golden', golden]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^decision: CONTINUE/);

    const blocked = writeTrace(
      dir,
      'blocked.json',
      traceWith((t) => {
        probe(t, 'me').http!.status = 500;
      }),
    );
    const b = await cli(['judge', '--trace', blocked, '--golden', golden]);
    expect(b.code).toBe(1);
    expect(b.stdout).toMatch(/decision: BLOCK/);
    expect(b.stdout).toContain('me $.status status: 200 → 500');

    const warned = writeTrace(
      dir,
      'warn.json',
      traceWith((t) => {
        body(t, 'me').extra = 1;
      }),
    );
    expect((await cli(['judge', '--trace', warned, '--golden', golden])).code).toBe(0);
    expect((await cli(['judge', '--trace', warned, '--golden', golden, '--warn-exit', '1'])).code).toBe(1);
  });

  it('--out writes a valid judgement; --format markdown and json print it', async () => {
    const dir = work();
    const trace = writeTrace(dir, 'run.json', goodTrace());
    const out = join(dir, 'out', 'run.judgement.json');
    const md = await cli([
      'judge',
      '--trace',
      trace,
      '--golden',
      join(dir, 'none'),
      '--out',
      out,
      '--format',
      'markdown',
    ]);
    expect(md.code).toBe(0);
    expect(md.stdout).toMatch(/^## Replay gate: ✅ \*\*CONTINUE\*\*/);
    const j = judgementSchema.parse(JSON.parse(readFileSync(out, 'utf8')));
    expect(j.judges.find((x) => x.id === 'golden-match')!.verdict).toBe('skip');
    expect(j.trace.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(j.policy.path).toMatch(/loops[\\/]user-history-replay[\\/]gate\.yaml$/);
    const js = await cli(['judge', '--trace', trace, '--format', 'json', '--golden', join(dir, 'none')]);
    expect(JSON.parse(js.stdout).kind).toBe('replay-env.judgement');
  });

  it('bad input exits 2 with a clear message and no stack', async () => {
    const dir = work();
    const missing = await cli(['judge', '--trace', join(dir, 'nope.json')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nope\.json: trace not found/);
    const trace = writeTrace(dir, 'run.json', goodTrace());
    const scenario = await cli(['judge', '--trace', trace, '--scenario', 'no-such']);
    expect(scenario.code).toBe(2);
    expect(scenario.stderr).toMatch(/--scenario no-such: not registered .*known: subject-graph-materializes/);
    const invalid = writeTrace(dir, 'invalid.json', { ...goodTrace(), durationMs: -1 } as never);
    const inv = await cli(['judge', '--trace', invalid]);
    expect(inv.code).toBe(2);
    expect(inv.stderr).toMatch(/invalid\.json: not a valid trace:\n.*durationMs/);
    expect(inv.stderr).not.toMatch(/\n\s+at /);
  });
});
