// PLACEHOLDER: replaced by the issue that builds `replay-env demo`.

import { FailureError } from '../errors.js';
import type { RegisterCommand } from './registry.js';

export const registerDemo: RegisterCommand = (program) => {
  program
    .command('demo')
    .description('(not built yet)')
    .action(() => {
      throw new FailureError('demo: not built yet');
    });
};
