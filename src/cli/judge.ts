// PLACEHOLDER: replaced by the issue that builds `replay-env judge`.

import { FailureError } from '../errors.js';
import type { RegisterCommand } from './registry.js';

export const registerJudge: RegisterCommand = (program) => {
  program
    .command('judge')
    .description('(not built yet)')
    .action(() => {
      throw new FailureError('judge: not built yet');
    });
};
