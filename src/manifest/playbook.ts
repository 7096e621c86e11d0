/**
 * `playbook`: the app-specific replay steps, generated from the manifest (its subject keys, env
 * var names, setup/migrate commands, local subject, golden dir). Pure: returns data; the CLI prints.
 */
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import type { LoadedManifest } from './load.js';
import { type ManifestCommand, prodUrlEnv, replayUrlEnv } from './schema.js';

interface PlaybookStep {
  title: string;
  /** Shell lines to run, in order. */
  commands: string[];
  notes: string[];
}

export interface Playbook {
  app: string;
  manifest: string;
  env: { prodDatabaseUrl: string; replayDatabaseUrl: string };
  subjectKeys: string[];
  steps: PlaybookStep[];
}

/** Single-quote for POSIX shells when needed (placeholders like <user_id> must be quoted). */
function shellQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * A path as the user types it from `cwd`: the playbook's commands are run from where `playbook`
 * was run (the repository root, usually), while the manifest's paths are relative to the manifest.
 */
function fromCwd(cwd: string, absolute: string): string {
  const rel = relative(cwd, absolute);
  if (rel === '') return '.';
  return rel.startsWith('..') || isAbsolute(rel) ? absolute : rel;
}

/** A command runs in the app's directory (manifest `repoPath`, then the command's own `cwd`). */
function describeCommand(c: ManifestCommand, appDir: string, cwd: string): string {
  const dir = fromCwd(cwd, c.cwd ? resolve(appDir, c.cwd) : appDir);
  return dir === '.' ? c.run : `(cd ${shellQuote(dir)} && ${c.run})`;
}

export function buildPlaybook(
  loaded: LoadedManifest,
  manifestArg: string,
  options: { sinceDays?: number; cwd: string },
): Playbook {
  const m = loaded.manifest;
  const cwd = options.cwd;
  const manifestDir = dirname(loaded.path);
  // Same resolution as `run` (repoPath) and `judge` (golden.dir, policy): relative to the manifest.
  const appDir = m.repoPath ? resolve(manifestDir, m.repoPath) : cwd;
  const app = shellQuote(manifestArg);
  const prodEnv = prodUrlEnv(m);
  const replayEnv = replayUrlEnv(m);
  const subjectArgs = m.subjectKeys.map((k) => `--subject ${shellQuote(`${k}=<${k}>`)}`).join(' ');
  const slug = m.subjectKeys.map((k) => `<${k}>`).join('-');
  const capsule = shellQuote(`capsules/${m.appId}-${slug}.json`);
  const trace = `traces/${m.appId}.trace.json`;
  const golden = fromCwd(cwd, resolve(manifestDir, m.golden?.dir ?? `golden/${m.appId}`));
  const policy = m.policy ? fromCwd(cwd, resolve(manifestDir, m.policy)) : undefined;
  const sinceDays = options.sinceDays ?? 180;
  const steps: PlaybookStep[] = [];

  steps.push({
    title: 'Check the manifest, and the replay database when its URL is set',
    commands: [`replay-env doctor --app ${app}`],
    notes: [`With ${replayEnv} set (or --db-url), doctor also checks tables, columns and load order.`],
  });

  steps.push({
    title: `Export one subject from production (read-only; safe redaction by default)`,
    commands: [
      `export ${prodEnv}='postgres://readonly-user@prod-host/db'`,
      `replay-env export-postgres --app ${app} ${subjectArgs} --since-days ${sinceDays} --out ${capsule}`,
      `replay-env inspect ${capsule}`,
    ],
    notes: [
      `Replace ${m.subjectKeys.map((k) => `<${k}>`).join(', ')} with the subject's real values; every subject key is required.`,
      'Capsules hold customer data: keep them out of git (add `capsules/` to your .gitignore).',
    ],
  });

  const migrationCommands = [
    ...(m.setup ?? []),
    ...(m.migrate ? [m.migrate] : []),
    ...(!m.setup && !m.migrate ? m.commands.filter((c) => /migrat|schema|setup/i.test(c.name)) : []),
  ];
  steps.push({
    title: 'Create the replay database schema (a throwaway local or CI database, never production)',
    commands: [
      `export ${replayEnv}=${shellQuote(m.localDatabaseUrl ?? 'postgres://postgres@localhost:5432/replay')}`,
      ...migrationCommands.map((c) => describeCommand(c, appDir, cwd)),
    ],
    notes: [
      ...(migrationCommands.length > 0
        ? [
            `From the manifest's ${m.setup ? 'setup' : m.migrate ? 'migrate' : 'commands'} (run with ${replayEnv} pointing at the replay database).`,
          ]
        : [
            "Apply your app's migrations to the replay database: materialize loads rows into existing tables.",
          ]),
      'Or skip this step and add --create-schema to the materialize step: it creates the tables from the schema the capsule carries.',
    ],
  });

  const localSubject = m.localSubject && Object.keys(m.localSubject).length > 0;
  steps.push({
    title: 'Materialize the capsule into the replay database (one transaction)',
    commands: [
      `replay-env materialize-postgres --app ${app} --capsule ${capsule}${localSubject ? ' --use-local-subject' : ''}`,
    ],
    notes: localSubject
      ? [
          `--use-local-subject rewrites the subject to the manifest's localSubject (${Object.entries(
            m.localSubject ?? {},
          )
            .map(([k, v]) => `${k}=${v}`)
            .join(', ')}), so you can sign in as it locally.`,
        ]
      : [],
  });

  steps.push({
    title: "Run the app's commands and probes against the replayed data, recording a trace",
    commands: [`replay-env run --app ${app} --capsule ${capsule} --skip-materialize --trace-out ${trace}`],
    notes: [
      `${m.commands.length} command${m.commands.length === 1 ? '' : 's'} and ${m.probes.length} probe${m.probes.length === 1 ? '' : 's'} from the manifest.`,
    ],
  });

  steps.push({
    title: 'Judge the trace (and bless it as a golden when it is an excellent run)',
    commands: [
      `replay-env judge --trace ${trace} --golden ${shellQuote(golden)}${policy ? ` --policy ${shellQuote(policy)}` : ''}`,
      `replay-env bless --trace ${trace} --golden ${shellQuote(golden)}`,
    ],
    notes: ['judge exits 1 when the gate blocks.'],
  });

  return {
    app: m.appId,
    manifest: manifestArg,
    env: { prodDatabaseUrl: prodEnv, replayDatabaseUrl: replayEnv },
    subjectKeys: m.subjectKeys,
    steps,
  };
}

export function formatPlaybook(p: Playbook): string {
  const lines = [`Replay playbook for ${p.app} (${p.manifest})`, ''];
  const width = Math.max(p.env.prodDatabaseUrl.length, p.env.replayDatabaseUrl.length);
  lines.push(`  ${p.env.prodDatabaseUrl.padEnd(width)}  export source (production, read-only)`);
  lines.push(`  ${p.env.replayDatabaseUrl.padEnd(width)}  replay target (local or CI, never production)`);
  lines.push('');
  p.steps.forEach((s, i) => {
    lines.push(`${i + 1}. ${s.title}`);
    for (const c of s.commands) lines.push(`     ${c}`);
    for (const n of s.notes) lines.push(`   ${n}`);
    lines.push('');
  });
  return `${lines.join('\n').trimEnd()}\n`;
}
