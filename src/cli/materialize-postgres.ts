// PLACEHOLDER: replaced by the issue that builds `replay-env materialize-postgres`.

import { FailureError } from '../errors.js';
import type { RegisterCommand } from './registry.js';

export const registerMaterializePostgres: RegisterCommand = (program) => {
  program
    .command('materialize-postgres')
    .description('(not built yet)')
    .action(() => {
      throw new FailureError('materialize-postgres: not built yet');
    });
};
