// PLACEHOLDER: replaced by the issue that builds `replay-env bless`.

import { FailureError } from '../errors.js';
import type { RegisterCommand } from './registry.js';

export const registerBless: RegisterCommand = (program) => {
  program
    .command('bless')
    .description('(not built yet)')
    .action(() => {
      throw new FailureError('bless: not built yet');
    });
};
