/** Contract checks of a capsule against the manifest, before materialize touches the database. */
import { contentHash } from '../../capsule/integrity.js';
import type { IndexedCapsule } from '../../capsule/rows.js';
import { InputError } from '../../errors.js';
import { ADAPTER, type Manifest, type ManifestTable } from '../../manifest/schema.js';

/**
 * The contract checks before touching the database: app, adapter, subject keys, every capsule
 * table declared with a deletePredicate. Returns the capsule's tables (file order).
 */
export function checkCapsule(
  manifest: Manifest,
  capsule: Pick<IndexedCapsule, 'header' | 'counts'>,
  path: string,
): string[] {
  const { header } = capsule;
  if (header.app !== manifest.appId)
    throw new InputError(
      `${path}: capsule app ${JSON.stringify(header.app)} does not match the manifest's appId ${JSON.stringify(manifest.appId)}`,
    );
  if (header.adapter !== ADAPTER)
    throw new InputError(
      `${path}: adapter: must be ${JSON.stringify(ADAPTER)}, got ${JSON.stringify(header.adapter)}`,
    );
  checkContentHash(header, path);
  const missingKeys = manifest.subjectKeys.filter((k) => typeof header.subject[k] !== 'string');
  if (missingKeys.length > 0)
    throw new InputError(
      `${path}: subject: missing subject key ${missingKeys.join(', ')} (the manifest's subjectKeys are ${manifest.subjectKeys.join(', ')})`,
    );
  header.graph.forEach((g, i) => {
    for (const k of manifest.subjectKeys)
      if (!(k in g)) throw new InputError(`${path}: graph[${i}]: missing subject key ${k}`);
  });
  const declared = new Map<string, ManifestTable>(manifest.postgres.tables.map((t) => [t.name, t]));
  const tables = Object.keys(capsule.counts);
  // Tables referential closure added (closure.addedTables) need no declaration: they only add rows.
  const closureAdded = new Set(
    ((header.closure as { addedTables?: unknown } | undefined)?.addedTables as string[] | undefined) ?? [],
  );
  const undeclared = tables.filter((t) => !declared.has(t) && !closureAdded.has(t));
  if (undeclared.length > 0)
    throw new InputError(
      `${path}: tables: ${undeclared.join(', ')} ${undeclared.length === 1 ? 'is' : 'are'} not declared in the manifest's postgres.tables; a capsule table the manifest does not declare cannot be materialized`,
    );
  const noPredicate = tables.filter((t) => declared.has(t) && !declared.get(t)!.deletePredicate);
  if (noPredicate.length > 0)
    throw new InputError(
      `manifest: postgres.tables: ${noPredicate.join(', ')} ${noPredicate.length === 1 ? 'has' : 'have'} no deletePredicate, which materialize requires (a condition over t, the target row, and g, a graph subject)`,
    );
  return tables;
}

/**
 * `integrity.contentSha256` binds the subject, the graph and every table's hash together: a capsule
 * whose subject or graph was edited after export (its rows' hashes still verified) is refused
 * before anything runs. Capsules without an integrity record (the original tool's) have nothing to
 * check.
 */
function checkContentHash(header: IndexedCapsule['header'], path: string): void {
  const integrity = header.integrity;
  if (!integrity) return;
  const expected = contentHash(header.subject, header.graph, integrity.tables);
  if (expected !== integrity.contentSha256)
    throw new InputError(
      `${path}: integrity.contentSha256 does not match the capsule's subject, graph and table hashes (the capsule was changed after export): nothing was loaded; export it again`,
    );
}
