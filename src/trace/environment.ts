/** Facts about where a run happened: tool and runtime versions, Postgres version, git commit. */
import { execFile } from 'node:child_process';
import { withClient } from '../postgres/connect.js';
import { TOOL_NAME, VERSION } from '../version.js';
import type { Trace } from './schema.js';

async function postgresVersion(databaseUrl: string): Promise<string | null> {
  try {
    return await withClient(databaseUrl, { role: 'replay target' }, async (c) => {
      const r = await c.query<{ server_version: string }>('show server_version');
      return r.rows[0]?.server_version ?? null;
    });
  } catch {
    return null;
  }
}

/** `git rev-parse HEAD` in `cwd`; null outside a repository or without git. */
function gitCommit(cwd: string): Promise<string | null> {
  return new Promise((resolve) => {
    execFile('git', ['rev-parse', 'HEAD'], { cwd, timeout: 5000 }, (err, stdout) => {
      const sha = String(stdout ?? '').trim();
      resolve(!err && /^[0-9a-f]{40,64}$/.test(sha) ? sha : null);
    });
  });
}

export async function environmentFacts(databaseUrl: string, cwd: string): Promise<Trace['environment']> {
  const [postgres, commit] = await Promise.all([postgresVersion(databaseUrl), gitCommit(cwd)]);
  return {
    tool: TOOL_NAME,
    toolVersion: VERSION,
    node: process.version,
    postgres,
    gitCommit: commit,
    platform: `${process.platform}-${process.arch}`,
  };
}
