// PLACEHOLDER: replaced by the issue that builds `replay-env run`.

import { FailureError } from '../errors.js';
import type { RegisterCommand } from './registry.js';

export const registerRun: RegisterCommand = (program) => {
  program
    .command('run')
    .description('(not built yet)')
    .action(() => {
      throw new FailureError('run: not built yet');
    });
};
