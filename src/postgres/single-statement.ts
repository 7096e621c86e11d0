/**
 * Every statement replay-env builds from a manifest's SQL snippets (graph edges, `from`, `where`,
 * `orderBy`, `rowSql`, `deletePredicate`) must parse as exactly one statement: a snippet such as
 * `deletePredicate: "true; commit; drop table reactions; --"` would otherwise end the transaction
 * and run its own statements. Checked with PostgreSQL's parser before anything connects.
 */
import type pg from 'pg';
import { InputError } from '../errors.js';
import type { Manifest } from '../manifest/schema.js';
import { buildExportSql } from './export/sql.js';
import { deleteSql } from './materialize/sql.js';
import { loadSqlParser, parseOneStatement } from './schema/sql-guard.js';

export interface BuiltStatement {
  /** The manifest field the statement comes from, e.g. `postgres.tables[2] (reactions).deletePredicate`. */
  entry: string;
  text: string;
}

/** The statements export and materialize build from the manifest (subject values are bound, not in the text). */
function manifestStatements(m: Manifest): BuiltStatement[] {
  const subject = Object.fromEntries(m.subjectKeys.map((k) => [k, '0']));
  const sql = buildExportSql({ manifest: m, subject, sinceDays: 1 });
  return [
    ...sql.edges.map((e) => ({ entry: e.entry, text: e.text })),
    ...sql.tables.map((t) => ({ entry: t.entry, text: t.text })),
    ...m.postgres.tables.flatMap((t, i) =>
      t.deletePredicate
        ? [
            {
              entry: `postgres.tables[${i}] (${t.name}).deletePredicate`,
              text: deleteSql(t.name, t.deletePredicate),
            },
          ]
        : [],
    ),
  ];
}

/**
 * Each statement that does not parse as exactly one statement, with the parser's reason.
 * `syntaxErrors: false` leaves text the parser rejects to the database (doctor's EXPLAIN names
 * the error); stacking is always reported.
 */
export async function multiStatementProblems(
  statements: readonly BuiltStatement[],
  options: { syntaxErrors?: boolean } = {},
): Promise<{ entry: string; problem: string }[]> {
  await loadSqlParser();
  const out: { entry: string; problem: string }[] = [];
  for (const s of statements) {
    const parsed = parseOneStatement(s.text);
    if ('error' in parsed && options.syntaxErrors && !/^holds \d+ statements/.test(parsed.error))
      out.push({ entry: s.entry, problem: `the statement built from it ${parsed.error}` });
    else if ('error' in parsed && /^holds \d+ statements/.test(parsed.error))
      out.push({
        entry: s.entry,
        problem: `the statement built from it ${parsed.error.replace(/ \(.*\)$/, '')}; a manifest SQL snippet must stay inside its one statement (no ";")`,
      });
  }
  return out;
}

/** Refuse (exit 2) a manifest whose snippets would run more than one statement. */
export async function assertManifestSingleStatements(m: Manifest, manifestPath: string): Promise<void> {
  const problems = await multiStatementProblems(manifestStatements(m), { syntaxErrors: true });
  if (problems.length > 0)
    throw new InputError(`${manifestPath}: ${problems.map((p) => `${p.entry}: ${p.problem}`).join('; ')}`);
}

/**
 * A query sent with the extended protocol (Parse/Bind/Execute) even without parameters: the server
 * itself refuses a text holding more than one statement. (`queryMode` is node-postgres' option;
 * its type definitions lack it.)
 */
export function extendedQuery(text: string, values: unknown[] = []): pg.QueryConfig {
  return { text, values, queryMode: 'extended' } as pg.QueryConfig;
}
