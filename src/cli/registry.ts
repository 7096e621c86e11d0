/** Every CLI command, one file each. A command file exports `register<Name>`. */
import type { Command } from 'commander';
import { registerBless } from './bless.js';
import type { CliIO } from './context.js';
import { registerDemo } from './demo.js';
import { registerDoctor } from './doctor.js';
import { registerExportPostgres } from './export-postgres.js';
import { registerInit } from './init.js';
import { registerInspect } from './inspect.js';
import { registerJudge } from './judge.js';
import { registerKeygen } from './keygen.js';
import { registerMaterializePostgres } from './materialize-postgres.js';
import { registerPlaybook } from './playbook.js';
import { registerRun } from './run.js';

export type RegisterCommand = (program: Command, io: CliIO, setExitCode: (code: number) => void) => void;

export const commands: RegisterCommand[] = [
  registerInit,
  registerDoctor,
  registerExportPostgres,
  registerInspect,
  registerMaterializePostgres,
  registerRun,
  registerJudge,
  registerBless,
  registerPlaybook,
  registerDemo,
  registerKeygen,
];
