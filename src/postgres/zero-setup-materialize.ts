/**
 * `--create-schema` for materialize: a `prepareTarget` hook for materializeCapsule that creates
 * the capsule's `schema` section inside the materialization transaction, before the rows are
 * loaded, and adds the constraints and indexes after them (see create-schema.ts).
 */
import type { CapsuleHeader } from '../capsule/schema.js';
import { createSchemaFromCapsule, parseSchemaSection } from './create-schema.js';
import type { PrepareTarget } from './materialize/index.js';

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
    const created = await createSchemaFromCapsule(client, section, { replace: options.replace });
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
