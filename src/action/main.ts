/**
 * The Action's front door (kept thin, like actions/checkout): read the inputs once, run, and turn
 * the outcome into the step's result. Errors become one core.setFailed message, no stack trace.
 */
import * as core from '@actions/core';
import { errorMessage, InputError } from '../errors.js';
import { readSettings } from './inputs.js';
import { runAction } from './run-action.js';
import { secretMaskValues } from './settings.js';

export async function run(): Promise<void> {
  try {
    const settings = readSettings((name) => core.getInput(name));
    // Mask the capsule key in every log line (it normally comes from a secret, masked already);
    // a PEM private key is multi-line: every line is registered (settings.ts, secretMaskValues).
    for (const s of secretMaskValues(settings.capsuleKey, process.env.REPLAY_CAPSULE_KEY)) core.setSecret(s);
    const result = await runAction(settings, process.env);
    if (result.failed) core.setFailed(result.failMessage ?? `replay-env decision: ${result.decision}`);
  } catch (err) {
    if (!(err instanceof InputError) && process.env.REPLAY_ENV_DEBUG === '1')
      core.debug((err as Error)?.stack ?? '');
    core.setFailed(errorMessage(err));
  }
}
