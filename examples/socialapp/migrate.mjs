// socialapp's migration tool (a stand-in for the app's real one): runs each .sql file given on
// the command line, in order, in one transaction, against DATABASE_URL. Used as the manifest's
// `setup` (schema.sql on an empty database) and `migrate` (new migrations over replayed data).
import { readFileSync } from 'node:fs';
import pg from 'pg';

const files = process.argv.slice(2);
const url = process.env.DATABASE_URL;
if (!url || files.length === 0) {
  process.stderr.write('usage: DATABASE_URL=… node migrate.mjs FILE.sql…\n');
  process.exit(2);
}
const client = new pg.Client({ connectionString: url });
await client.connect();
try {
  await client.query('begin');
  for (const f of files) {
    process.stdout.write(`applying ${f}\n`);
    await client.query(readFileSync(f, 'utf8'));
  }
  await client.query('commit');
  process.stdout.write(`applied ${files.length} migration(s)\n`);
} catch (err) {
  await client.query('rollback').catch(() => {});
  process.stderr.write(`migration failed: ${err.message}\n`);
  process.exitCode = 1;
} finally {
  await client.end();
}
