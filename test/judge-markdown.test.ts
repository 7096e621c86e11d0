import { describe, expect, it } from 'vitest';
import { judgeTrace } from '../src/gate/judge-trace.js';
import { loadLoop } from '../src/gate/loop.js';
import { loadPolicy } from '../src/gate/policy.js';
import { buildGolden } from '../src/judge/golden.js';
import {
  GITHUB_CHECK_SUMMARY_LIMIT,
  GITHUB_COMMENT_LIMIT,
  renderJudgementMarkdown,
  renderJudgementText,
} from '../src/judge/markdown.js';
import type { Judgement } from '../src/judge/schema.js';
import { body, dbState, goodTrace, probe, traceWith } from './helpers/trace-fixture.js';

const loop = loadLoop();
const policy = loadPolicy();

function blockedJudgement(): Judgement {
  const golden = buildGolden({ trace: goodTrace() }).golden;
  const t = traceWith((x) => {
    probe(x, 'me').http!.status = 500;
    body(x, 'me').name = 'a | pipe `and` backticks';
    probe(x, 'posts').sql!.rows[0] = [1, 'PRIVATE-ROW-VALUE'];
  });
  return judgeTrace({
    trace: t,
    golden,
    goldenPath: '/g/x.golden.json',
    policy,
    judges: loop.judges,
    tracePath: '/t/run.json',
  });
}

/** A judgement with thousands of differences and long evidence. */
function hugeJudgement(): Judgement {
  const j = blockedJudgement();
  for (let i = 0; i < 5000; i++)
    j.differences.push({
      probe: `probe-${i % 7}`,
      path: `$.json.items[${i}].${'deeply.nested.'.repeat(5)}field`,
      change: 'changed',
      risk: i % 3 ? 'warn' : 'fail',
      golden: 'x'.repeat(200),
      actual: 'y'.repeat(200),
    });
  for (const jr of j.judges)
    for (let i = 0; i < 500; i++) jr.evidence.push(`evidence line ${i} ${'z'.repeat(150)}`);
  for (let i = 0; i < 300; i++) j.reasons.push(`warn: reason ${i} ${'r'.repeat(100)}`);
  return j;
}

describe('judgement Markdown', () => {
  it('has a decision banner, the reasons, a judges table and the differences with paths', () => {
    const md = renderJudgementMarkdown(blockedJudgement());
    expect(md).toMatch(
      /^## Replay gate: 🛑 \*\*BLOCK\*\* — app `socialnotes` · scenario `subject-graph-materializes`/,
    );
    expect(md).toContain('**Why**');
    expect(md).toContain('- a probe result differs from the golden trace (`golden_mismatch`)');
    expect(md).toContain('| Golden match | ❌ fail |');
    expect(md).toContain('| fail | me | `$.status` | status | `200` | `500` |');
    // A changed value is shown as its shape and a keyed fingerprint, never the value.
    expect(md).toMatch(
      /\| fail \| me \| `\$\.json\.name` \| changed \| `string\(3\) #[0-9a-f]{8}` \| `string\(24\) #[0-9a-f]{8}` \|/,
    );
    expect(md).not.toContain('pipe');
    // Opt-in values (private repositories): table cells are escaped.
    const shown = renderJudgementMarkdown(blockedJudgement(), { showValues: true });
    expect(shown).toContain('``"a \\| pipe `and` backticks"``');
    expect(md).toContain('trace: `/t/run.json`');
    expect(md).not.toContain('Truncated');
  });

  it('never includes capsule rows (SQL row values)', () => {
    const j = blockedJudgement();
    expect(j.differences.some((d) => d.probe === 'posts')).toBe(true);
    expect(renderJudgementMarkdown(j)).not.toContain('PRIVATE-ROW-VALUE');
    expect(renderJudgementText(j)).not.toContain('PRIVATE-ROW-VALUE');
  });

  it('truncates gracefully under the check-run and comment limits, and says so', () => {
    const j = hugeJudgement();
    for (const limit of [GITHUB_CHECK_SUMMARY_LIMIT, GITHUB_COMMENT_LIMIT, 20_000]) {
      const md = renderJudgementMarkdown(j, { maxChars: limit, fullJudgementRef: 'run.judgement.json' });
      expect(md.length).toBeLessThanOrEqual(limit);
      expect(md).toMatch(
        /_Truncated to fit [\d,]+ characters: .* full judgement JSON has everything \(run\.judgement\.json\)\._/,
      );
      expect(md).toMatch(/more difference\(s\) not shown \(\d+ fail, \d+ warn, \d+ info\)/);
      expect(md).toContain('Replay gate: 🛑 **BLOCK**'); // the banner always survives
    }
  });

  it('even a tiny budget keeps the banner and the note', () => {
    const md = renderJudgementMarkdown(hugeJudgement(), { maxChars: 1500 });
    expect(md.length).toBeLessThanOrEqual(1500);
    expect(md).toContain('BLOCK');
    expect(md).toMatch(/Truncated to fit 1,500 characters/);
  });

  it('the terminal text is short and lists reasons and differences', () => {
    const text = renderJudgementText(blockedJudgement());
    expect(text).toMatch(/^decision: BLOCK — socialnotes \/ subject-graph-materializes\n/);
    expect(text).toMatch(/fail {2}golden-match/);
    expect(text).toContain('me $.status status: 200 → 500');
  });
});

describe('data-derived text in the Markdown is escaped (issue 15)', () => {
  it('mdText neutralises HTML, comments, mentions, images, links and table pipes', async () => {
    const { mdText, mdCode } = await import('../src/util/markdown-escape.js');
    const hostile =
      '<!-- x --> @everyone ![](http://evil.example/p.png) <img src=x> [y](http://e.x) </details> a|b';
    const t = mdText(hostile);
    for (const bad of ['<!--', '-->', '<img', '</details>', '![](', '@everyone', 'http://', ' a|b'])
      expect(t).not.toContain(bad);
    // Brackets are escaped, so no link or image can form.
    expect(t).not.toMatch(/(?<!\\)[[\]]/);
    const c = mdCode('a`b|c');
    expect(c).toBe('``a`b\\|c``');
  });

  it('response keys that are data (an email as a key) are fingerprinted in the Path column', async () => {
    const { publicJsonPath } = await import('../src/judge/golden-match.js');
    const { fingerprinter } = await import('../src/judge/diff.js');
    const fp = fingerprinter(new Uint8Array(32));
    const path = publicJsonPath(['json', 'byEmail', 'alice@example.com', 'name'], fp);
    expect(path).not.toContain('alice');
    expect(path).toMatch(/^\$\.json\.byEmail\["key\(17\) #[0-9a-f]{8}"\]\.name$/);
  });
});

describe('the "Database changes" section', () => {
  const nasty = 'evil|`x` <!-- @everyone';
  function dbJudgement(withGolden: boolean): Judgement {
    const t = traceWith((x) => {
      x.databaseState = dbState(
        { users: { outside: [4, 4, 1] }, posts: { inGraph: [2, 3, 1] }, [nasty]: {}, tags: {} },
        { ignoredTables: ['audit_log'], ignoredColumns: ['updated_at'] },
      );
    });
    const g = traceWith((x) => {
      x.databaseState = dbState({ users: {}, posts: { inGraph: [2, 3, 1] } });
    });
    return judgeTrace({
      trace: t,
      golden: withGolden ? buildGolden({ trace: g }).golden : null,
      goldenPath: '/g/x.golden.json',
      policy,
      judges: loop.judges,
    });
  }

  it('lists the changed tables with counts, flags the writes outside the graph, compares with the golden', () => {
    const md = renderJudgementMarkdown(dbJudgement(true));
    expect(md).toContain(
      "### Database changes (2 table(s); ⛔ 1 row(s) written outside the subject's graph)",
    );
    expect(md).toContain("| Table | Subject's graph | Outside the graph | Golden run |");
    expect(md).toContain(
      "| `users` | unchanged | ⛔ 4 → 4 rows, 1 written (**1 row(s) outside the subject's graph**) | ❌ differs |",
    );
    expect(md).toContain('| `posts` | 2 → 3 rows, 1 written | unchanged | same |');
    expect(md).toContain('_2 table(s) unchanged · ignored: tables `audit_log`; columns `updated_at`._');
    // The section sits after the judges (probe) table and before the evidence.
    expect(md.indexOf('Database changes')).toBeGreaterThan(md.indexOf('| Judge | Verdict | Summary |'));
    expect(md.indexOf('Database changes')).toBeLessThan(md.indexOf('<details><summary>Evidence'));
    // Digests never reach the comment.
    expect(md).not.toMatch(/d4-4-1/);
    const text = renderJudgementText(dbJudgement(false));
    expect(text).toContain(
      "  users: subject's graph unchanged; outside 4 → 4 rows, 1 written — WRITE OUTSIDE THE SUBJECT'S GRAPH (1 row(s))",
    );
  });

  it('shows table names from the trace only inside code spans, and in the evidence escaped', () => {
    const j = dbJudgement(false);
    j.database!.tables.push({ ...j.database!.tables[0]!, table: nasty, outsideWrite: 0 });
    j.judges.at(-1)!.evidence.push(`${nasty} (subject's graph): 1 → 2 rows, 1 written`);
    const md = renderJudgementMarkdown(j);
    // One code span (nothing inside is interpreted; the pipe cannot split the cell).
    expect(md).toContain('| ``evil\\|`x` <!-- @everyone`` | unchanged |');
    expect(md).toContain('- evil\\|\\`x\\` &lt;!-- @\u200beveryone');
    expect(md.replace(/``evil[^\n]*``/g, '')).not.toMatch(/<!--|@everyone/);
    expect(md).not.toContain('Golden run');
  });
});
