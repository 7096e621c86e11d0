/**
 * The environment the Action gives the app under test: the step's environment minus what belongs
 * to the Action itself — its inputs (`INPUT_*`: the GitHub token, the capsule key) and the
 * runner's service tokens (artifact/cache runtime token, OIDC token request). The PR's code runs as
 * the app's commands and probes; it needs the replay database, not write access to the repository
 * or the key to other capsules. (The production URL and REPLAY_CAPSULE_KEY are withheld by the run
 * stage itself: run/schema-steps.ts.)
 */
const RUNNER_TOKENS = new Set([
  'ACTIONS_RUNTIME_TOKEN',
  'ACTIONS_ID_TOKEN_REQUEST_TOKEN',
  'ACTIONS_ID_TOKEN_REQUEST_URL',
]);

export function appEnvironment(env: Record<string, string | undefined>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(env)) {
    if (k.startsWith('INPUT_') || RUNNER_TOKENS.has(k)) continue;
    out[k] = v;
  }
  return out;
}
