/**
 * `--create-schema` for materialize: a `prepareTarget` hook for materializeCapsule that creates
 * the capsule's `schema` section inside the materialization transaction, before the rows are
 * loaded, and adds the constraints and indexes after them (see create-schema.ts).
 */

import { schemaSectionHash } from '../../capsule/integrity.js';
import type { CapsuleHeader } from '../../capsule/schema.js';
import { InputError } from '../../errors.js';
import { createSchemaFromCapsule, parseSchemaSection } from '../schema/create-schema.js';
import type { PrepareTarget } from './materialize-capsule.js';

export interface CreateSchemaReport {
  tables: string[];
  constraints: number;
  indexes: number;
  sequences: number;
  warnings: string[];
  ms: number;
}

export function createSchemaHook(options: {
  capsulePath: string;
  replace?: boolean;
  /** Filled in when the schema was created. */
  report?: (r: CreateSchemaReport) => void;
}): PrepareTarget {
  return async (client, header: CapsuleHeader) => {
    const t0 = performance.now();
    const section = parseSchemaSection(header.schema, options.capsulePath);
    verifySchemaSectionHash(header, options.capsulePath);
    const created = await createSchemaFromCapsule(client, section, {
      replace: options.replace,
      where: options.capsulePath,
    });
    return {
      createdTables: created.tables,
      afterLoad: async () => {
        const done = await created.finish();
        options.report?.({
          tables: created.tables,
          ...done,
          warnings: section.warnings,
          ms: Math.round(performance.now() - t0),
        });
      },
    };
  };
}

/**
 * The schema section must be the one the exporter hashed: `integrity.schemaSha256` present and
 * equal to the section's hash. Checked before any of it runs.
 */
function verifySchemaSectionHash(header: CapsuleHeader, capsulePath: string): void {
  const recorded = header.integrity?.schemaSha256;
  if (!recorded)
    throw new InputError(
      `${capsulePath}: the integrity record does not cover the schema section (no integrity.schemaSha256; exported by an older replay-env, or edited): export the capsule again, or create the schema with the manifest's "setup" commands instead of --create-schema`,
    );
  if (schemaSectionHash(header.schema) !== recorded)
    throw new InputError(
      `${capsulePath}: the schema section does not match integrity.schemaSha256 (the capsule was changed after export): nothing was created; export it again`,
    );
}
