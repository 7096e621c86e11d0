// PLACEHOLDER: replaced by the issue that builds `replay-env export-postgres`.

import { FailureError } from '../errors.js';
import type { RegisterCommand } from './registry.js';

export const registerExportPostgres: RegisterCommand = (program) => {
  program
    .command('export-postgres')
    .description('(not built yet)')
    .action(() => {
      throw new FailureError('export-postgres: not built yet');
    });
};
