// PLACEHOLDER: replaced by the issue that builds `replay-env inspect`.

import { FailureError } from '../errors.js';
import type { RegisterCommand } from './registry.js';

export const registerInspect: RegisterCommand = (program) => {
  program
    .command('inspect')
    .description('(not built yet)')
    .action(() => {
      throw new FailureError('inspect: not built yet');
    });
};
