/**
 * The scenario registry as a file to edit (`scenario add`, `scenario remove`). It is read with the
 * `yaml` package's Document API, so the comments, key order and formatting of everything an edit
 * does not touch survive it; it is validated with the schema the judge and the Action load it with
 * (judge/loop.ts `loadScenarios`) before the edit and again after it, and written atomically (a
 * failed edit leaves the file as it was). A missing registry is created with the shipped header.
 */
import { existsSync } from 'node:fs';
import { type Document, isMap, isScalar, isSeq, parseDocument, type YAMLSeq } from 'yaml';
import { InputError } from '../errors.js';
import { loadScenarios, type Scenario, scenariosFileSchema } from '../judge/loop.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { readTextFile } from '../util/json-file.js';
import { validateFile } from '../util/yaml-file.js';
import { parseEntry } from './entry.js';

/** The Action's default `scenarios-file`, relative to the repository. */
export const DEFAULT_REGISTRY = 'loops/user-history-replay/scenarios.yaml';

const NEW_REGISTRY = `# The scenario registry: every escaped bug becomes a scenario here (\`replay-env scenario add\`).
#   id, title, risk (low | medium | high | critical)
#   capsule: a path (relative to the repository) or {artifact: name} (a workflow artifact)
#   capsuleSha256: pins the capsule file's sha256 (optional): a trace of another capsule blocks
#   probes: manifest probe names the scenario needs (a missing one blocks)
#   golden: the golden file (optional; default <golden dir>/<id>.golden.json)
#   maxDurationSeconds, requiredFor: [merge, release], bug: the escaped bug (optional)
version: 1
scenarios: []
`;

export interface RegistryFile {
  path: string;
  /** The registry as loaded (validated); an edit does not change it. */
  scenarios: Scenario[];
  /** False when the file does not exist yet (an add creates it). */
  exists: boolean;
  doc: Document;
}

/** The registry at `path`, validated; a missing file is an empty registry (created on write). */
export function openRegistry(path: string): RegistryFile {
  const exists = existsSync(path);
  const scenarios = exists ? loadScenarios(path) : [];
  const doc = parseDocument(exists ? readTextFile(path, 'scenarios file') : NEW_REGISTRY);
  return { path, scenarios, exists, doc };
}

function scenarioSeq(reg: RegistryFile): YAMLSeq {
  const seq = reg.doc.get('scenarios', true);
  // loadScenarios has checked the shape; this guards the Document view of the same text.
  if (!isSeq(seq)) throw new InputError(`${reg.path}: scenarios: must be a list`, { field: 'scenarios' });
  return seq;
}

/** Index of the scenario `id` in the registry, or -1. */
export function scenarioIndex(reg: RegistryFile, id: string): number {
  return reg.scenarios.findIndex((s) => s.id === id);
}

/**
 * Appends `entry` (validated against the registry's scenario schema first). Short lists of
 * scalars are written in flow style (`requiredFor: [merge, release]`), as the shipped entries are.
 */
export function appendScenario(reg: RegistryFile, entry: Record<string, unknown>): Scenario {
  const index = scenarioIndex(reg, String(entry.id));
  if (index >= 0)
    throw new InputError(
      `${reg.path}: scenarios[${index}].id: a scenario ${JSON.stringify(entry.id)} is already registered; choose another id, or remove it first (replay-env scenario remove ${String(entry.id)})`,
      { field: 'id' },
    );
  const parsed = parseEntry(entry, reg.path);
  const seq = scenarioSeq(reg);
  seq.flow = false;
  const node = reg.doc.createNode(entry);
  if (isMap(node))
    for (const pair of node.items)
      if (isSeq(pair.value) && pair.value.items.every((i) => isScalar(i))) pair.value.flow = true;
  if (seq.items.length > 0) (node as { spaceBefore?: boolean }).spaceBefore = true;
  seq.items.push(node);
  return parsed;
}

/** Removes the scenario `id`; returns it as it was registered. */
export function removeScenario(reg: RegistryFile, id: string): Scenario {
  const index = scenarioIndex(reg, id);
  if (index < 0)
    throw new InputError(
      `${reg.path}: no scenario ${JSON.stringify(id)} is registered (known: ${reg.scenarios.map((s) => s.id).join(', ') || 'none'})`,
      { field: 'id' },
    );
  scenarioSeq(reg).items.splice(index, 1);
  return reg.scenarios[index]!;
}

/** Validates the edited registry as the judge will load it, then writes it atomically. */
export function writeRegistry(reg: RegistryFile): void {
  const text = reg.doc.toString({ flowCollectionPadding: false });
  validateFile(scenariosFileSchema, parseDocument(text).toJS(), reg.path, 'scenarios file');
  writeFileAtomic(reg.path, text, 'scenarios file');
}
