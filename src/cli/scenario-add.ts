/**
 * `replay-env scenario add <id>`: an escaped bug becomes a regression scenario in one command —
 * the capsule (exported from a subject, safe and encrypted by default, or an existing one) is
 * stored under the git-ignored capsules/, the replay runs, the judgement is shown, the entry is
 * appended to the scenario registry and, on the user's confirmation, the golden is blessed
 * (never in CI). The work is in scenario-add-steps.ts, loaded when the command runs.
 */
import { type Command, Option } from 'commander';
import { CAPSULE_KEY_ENV, CAPSULE_KEY_FILE_ENV } from '../capsule/encryption.js';
import { DEFAULT_REGISTRY } from '../scenario/registry-file.js';
import type { CliIO } from './context.js';
import { collectValues } from './encryption-options.js';
import { collectKeyValue, oneOf, positiveInt } from './options.js';

export interface ScenarioAddFlags {
  app: string;
  title: string;
  risk: 'low' | 'medium' | 'high' | 'critical';
  bug?: string;
  probe?: string[];
  requiredFor: ('merge' | 'release')[];
  maxDuration: number;
  subject?: [string, string][];
  capsule?: string;
  artifact?: string;
  sourceDbUrl?: string;
  sinceDays?: number;
  redaction: 'safe' | 'raw';
  encryptTo?: string[];
  encrypt?: boolean;
  unencrypted?: boolean;
  scenariosFile: string;
  golden?: string;
  dbUrl?: string;
  allowRemote?: boolean;
  createSchema?: boolean;
  replaceSchema?: boolean;
  useLocalSubject?: boolean;
  rewriteSubject?: [string, string][];
  yes?: boolean;
  bless: boolean;
  json?: boolean;
}

function requiredForList(value: string): ('merge' | 'release')[] {
  const parts = value
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  return parts.map(oneOf(['merge', 'release'] as const));
}

const AFTER = `
The capsule: --subject k=v … exports it from the source database (--source-db-url, else the
manifest's postgres.prodDatabaseUrlEnv variable) with safe redaction, encrypted with age to the
recipients of --encrypt-to (age1… from \`replay-env keygen\`, or a recipients file; repeatable) or
with the passphrase in ${CAPSULE_KEY_ENV} (--encrypt); --unencrypted stores it in clear. The replay
that follows decrypts it with ${CAPSULE_KEY_ENV} / ${CAPSULE_KEY_FILE_ENV} (an identity of one of the
recipients). --capsule F takes an existing capsule instead. Either way it is stored under capsules/
(git-ignored) and the registry names that path, or the workflow artifact given with --artifact.

Blessing: after the judgement the golden is written only when you confirm (or pass --yes), never
when CI=true, never without a terminal unless --yes, and never when the replay blocks.

Exit codes: 0 the scenario is registered (whatever the replay decided: see "decision"), 1 the
export or the replay could not run, 2 bad input. See docs/scenarios.md.`;

export function registerScenarioAdd(parent: Command, io: CliIO): void {
  parent
    .command('add')
    .description(
      'Turn an escaped bug into a regression scenario: store its capsule, replay it, register it, bless on confirmation.',
    )
    .argument('<id>', 'scenario id: lowercase letters, digits, ".", "_" or "-" (it names the golden file)')
    .requiredOption('--app <manifest>', 'the app manifest (path, or a name under config/apps/)')
    .requiredOption('--title <text>', 'what the scenario checks, one line')
    .addOption(
      new Option('--risk <level>', 'risk of the bug escaping again')
        .choices(['low', 'medium', 'high', 'critical'])
        .makeOptionMandatory(),
    )
    .option('--bug <ref>', 'the bug it guards against: an issue URL or a tracker reference')
    .option(
      '--probe <name>',
      'a manifest probe the scenario needs (repeat; default: all of them)',
      collectValues,
    )
    .option('--required-for <list>', 'merge, release or merge,release', requiredForList, ['merge', 'release'])
    .option('--max-duration <seconds>', 'the replay’s time budget', positiveInt, 300)
    .option('--subject <key=value>', 'export this subject (repeat for every subject key)', collectKeyValue)
    .option('--capsule <file>', 'use this existing capsule instead of exporting')
    .option('--artifact <name>', 'register the capsule as this workflow artifact instead of its path')
    .option('--source-db-url <url>', 'source database (default: the manifest’s postgres.prodDatabaseUrlEnv)')
    .option('--since-days <n>', 'history window in days', positiveInt)
    .addOption(
      new Option('--redaction <mode>', 'safe (default) or raw (raw needs encryption)')
        .choices(['safe', 'raw'])
        .default('safe'),
    )
    .option('--encrypt-to <recipient>', 'age recipient (age1…) or recipients file; repeat', collectValues)
    .option('--encrypt', `encrypt with the passphrase in ${CAPSULE_KEY_ENV}`)
    .option('--unencrypted', 'store the exported capsule unencrypted (it stays in git-ignored capsules/)')
    .option('--scenarios-file <file>', 'the scenario registry', DEFAULT_REGISTRY)
    .option('--golden <dir>', 'golden directory (default: the manifest’s golden.dir, else golden/<appId>)')
    .option('--db-url <url>', 'replay database (default: the manifest’s replay variable, else embedded)')
    .option('--allow-remote', 'allow a non-local replay database (never a production-looking one)')
    .option('--create-schema', "create the tables from the capsule's schema section first")
    .option('--replace-schema', 'with --create-schema: drop and recreate tables that already exist')
    .option('--use-local-subject', "replay under the manifest's localSubject (recorded in the entry)")
    .option(
      '--rewrite-subject <key=value>',
      'rewrite a subject key at replay (recorded; repeatable)',
      collectKeyValue,
    )
    .option('--yes', 'bless the golden without asking (never in CI)')
    .option('--no-bless', 'register the scenario without blessing its golden')
    .option('--json', 'print one JSON document (schema/scenario-add-output.schema.json)')
    .addHelpText('after', AFTER)
    .action(async (id: string, flags: ScenarioAddFlags) => {
      const { addScenario } = await import('./scenario-add-steps.js');
      await addScenario(id, flags, io);
    });
}
