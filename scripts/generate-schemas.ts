/** `npm run schemas`: writes every schema listed in scripts/schemas.ts. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PUBLISHED_SCHEMAS, renderSchema } from './schemas.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
for (const entry of PUBLISHED_SCHEMAS) {
  const path = join(root, entry.file);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, renderSchema(entry));
  console.log(`wrote ${entry.file}`);
}
