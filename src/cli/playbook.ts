// PLACEHOLDER: replaced by the issue that builds `replay-env playbook`.

import { FailureError } from '../errors.js';
import type { RegisterCommand } from './registry.js';

export const registerPlaybook: RegisterCommand = (program) => {
  program
    .command('playbook')
    .description('(not built yet)')
    .action(() => {
      throw new FailureError('playbook: not built yet');
    });
};
