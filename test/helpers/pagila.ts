/**
 * Loads the Pagila sample database (../shared/datasets/pagila) into an existing, empty database
 * without psql: the files are pg_dump output, so plain SQL runs as multi-statement queries and
 * each `COPY … FROM stdin;` block is streamed with pg-copy-streams. `ALTER … OWNER TO` lines are
 * skipped (the dump's `postgres` role need not exist on the test server).
 *
 *   const db = useTestDatabase();
 *   beforeAll(() => loadPagila(db.url), 120_000);
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { PAGILA_DIR } from './shared.js';

export const PAGILA_SCHEMA = join(PAGILA_DIR, 'pagila-schema.sql');
export const PAGILA_DATA = join(PAGILA_DIR, 'pagila-data.sql');

const COPY_START = /^COPY\s+.+\s+FROM\s+stdin;\s*$/i;
const OWNER_TO = /^ALTER\s+[A-Z ]+\s.*\sOWNER\s+TO\s+.+;\s*$/;

/** Runs a pg_dump plain-format file on a connected client. */
export async function runDumpFile(client: pg.Client, path: string): Promise<void> {
  const lines = readFileSync(path, 'utf8').split('\n');
  let sql: string[] = [];
  const flush = async () => {
    const text = sql.join('\n');
    sql = [];
    if (text.replace(/--[^\n]*/g, '').trim()) await client.query(text);
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (COPY_START.test(line)) {
      await flush();
      const start = i + 1;
      let end = start;
      while (end < lines.length && lines[end] !== '\\.') end++;
      if (end >= lines.length) throw new Error(`${path}:${i + 1}: COPY block without a terminating \\.`);
      const data = lines.slice(start, end).map((l) => `${l}\n`);
      await pipeline(Readable.from([data.join('')]), client.query(copyFrom(line.replace(/;\s*$/, ''))));
      i = end;
    } else if (!OWNER_TO.test(line)) {
      sql.push(line);
    }
  }
  await flush();
}

/** Loads pagila-schema.sql and pagila-data.sql into the (empty) database at `url`. */
export async function loadPagila(url: string, options: { data?: boolean } = {}): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await runDumpFile(client, PAGILA_SCHEMA);
    if (options.data !== false) await runDumpFile(client, PAGILA_DATA);
  } finally {
    await client.end();
  }
}
