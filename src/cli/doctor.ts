// PLACEHOLDER: replaced by the issue that builds `replay-env doctor`.

import { FailureError } from '../errors.js';
import type { RegisterCommand } from './registry.js';

export const registerDoctor: RegisterCommand = (program) => {
  program
    .command('doctor')
    .description('(not built yet)')
    .action(() => {
      throw new FailureError('doctor: not built yet');
    });
};
