/** Tests that read ../shared (the spec's fixtures and datasets) skip with a message when it is absent. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SHARED_DIR } from './cli.js';

export const COMPAT_DIR = join(SHARED_DIR, 'compat');
export const PAGILA_DIR = join(SHARED_DIR, 'datasets', 'pagila');

export const hasCompat = existsSync(join(COMPAT_DIR, 'socialnotes.json'));
export const hasPagila = existsSync(join(PAGILA_DIR, 'pagila-schema.sql'));

export function sharedMissingMessage(what: string): string {
  return `skipped: ${what} not found beside the repository (expected ${SHARED_DIR}); these tests need the shared fixtures`;
}

if (!hasCompat) console.warn(sharedMissingMessage('../shared/compat'));
if (!hasPagila) console.warn(sharedMissingMessage('../shared/datasets/pagila'));
