/**
 * Every app command runs under a tiny supervisor, so that a killed `run` — even `kill -9`, which
 * no handler sees — cannot leave the app behind (the next run would probe the old app).
 *
 * The supervisor is a Node process started with `detached: true`: it leads a new process group,
 * and starts the command (`/bin/sh -c <command>`, or a probe's argv) inside that group. `run` holds the write end of the
 * supervisor's stdin pipe and never writes to it; when `run` dies for any reason the kernel closes
 * it, the supervisor reads end-of-file and stops its whole group: SIGTERM, then SIGKILL after the
 * grace period (which ends the supervisor too). While `run` lives, the supervisor is invisible:
 * it ignores the group's SIGTERM/SIGINT/SIGHUP (they are for the app) and exits as the shell did
 * (same code, same signal), so stopping, timeouts and exit codes work as before.
 *
 * It is an inline script (`node -e`), so the bundled Action needs no extra file. NODE_OPTIONS
 * meant for the app is handed to the shell, not applied to the supervisor itself.
 */

const SCRIPT = `
const { spawn } = require('node:child_process');
const [argvJson, graceText] = process.argv.slice(1);
const argv = JSON.parse(argvJson);
const grace = Number(graceText) || 3000;
const env = { ...process.env };
delete env.NODE_OPTIONS;
if (env.${'__REPLAY_ENV_APP_NODE_OPTIONS'} !== undefined) env.NODE_OPTIONS = env.${'__REPLAY_ENV_APP_NODE_OPTIONS'};
delete env.${'__REPLAY_ENV_APP_NODE_OPTIONS'};
let orphaned = false;
const ignore = () => {};
for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(s, ignore);
const sh = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'inherit', 'inherit'], env });
sh.on('error', (e) => { process.stderr.write('cannot start ' + argv[0] + ': ' + e.message + '\\n'); process.exit(127); });
sh.on('exit', (code, signal) => {
  if (orphaned) return;
  if (signal) { process.removeAllListeners(signal); process.kill(process.pid, signal); }
  else process.exit(code === null ? 1 : code);
});
const stopGroup = () => {
  if (orphaned) return;
  orphaned = true;
  try { process.kill(-process.pid, 'SIGTERM'); } catch {}
  setTimeout(() => { try { process.kill(-process.pid, 'SIGKILL'); } catch {} process.exit(137); }, grace);
};
process.stdin.on('data', ignore);
process.stdin.on('end', stopGroup);
process.stdin.on('close', stopGroup);
process.stdin.on('error', stopGroup);
`;

/** Where the app's own NODE_OPTIONS travels past the supervisor's Node. */
const APP_NODE_OPTIONS = '__REPLAY_ENV_APP_NODE_OPTIONS';

/** The executable, arguments and environment that run `argv` under the supervisor. */
export function supervisedSpawn(
  argv: readonly string[],
  env: Record<string, string>,
  graceMs: number,
): { file: string; args: string[]; env: Record<string, string> } {
  const { NODE_OPTIONS, ...rest } = env;
  return {
    file: process.execPath,
    args: ['-e', SCRIPT, JSON.stringify(argv), String(graceMs)],
    env: NODE_OPTIONS === undefined ? rest : { ...rest, [APP_NODE_OPTIONS]: NODE_OPTIONS },
  };
}
