/**
 * Manifest check: every `{{…}}` in a probe's url, headers, body, query, args and env is a known
 * placeholder of a subject key (manifest/placeholders.ts), and stands where it can be bound safely.
 * Problems are reported at the field, e.g. `probes[1].headers.x-user-id: "{{subject.nope}}": …`.
 */
import {
  knownPlaceholders,
  type PlaceholderKeys,
  placeholderProblem,
  scanPlaceholders,
  sqlPlaceholderProblems,
  sqlSegments,
} from './placeholders.js';

type Add = (issue: { path: PropertyKey[]; message: string }) => void;
type Loose = Record<string, unknown>;

const obj = (v: unknown): Loose => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Loose) : {});

function checkText(text: unknown, path: PropertyKey[], keys: PlaceholderKeys, add: Add): void {
  if (typeof text !== 'string') return;
  const found = scanPlaceholders(text);
  for (const message of found.problems) add({ path, message });
  for (const p of found.placeholders) {
    const problem = placeholderProblem(p, keys);
    if (problem) add({ path, message: problem });
  }
}

/** Placeholders inside a JSON body's string values (keys are not substituted). */
function checkJson(v: unknown, path: PropertyKey[], keys: PlaceholderKeys, add: Add): void {
  if (typeof v === 'string') checkText(v, path, keys, add);
  else if (Array.isArray(v)) for (const [i, x] of v.entries()) checkJson(x, [...path, i], keys, add);
  else if (v && typeof v === 'object')
    for (const [k, x] of Object.entries(v)) checkJson(x, [...path, k], keys, add);
}

function checkMap(v: unknown, path: PropertyKey[], keys: PlaceholderKeys, add: Add): void {
  for (const [k, x] of Object.entries(obj(v))) checkText(x, [...path, k], keys, add);
}

function checkCommandProbe(p: Loose, at: PropertyKey[], keys: PlaceholderKeys, add: Add): void {
  if (typeof p.command === 'string' && knownPlaceholders(p.command).length)
    add({
      path: [...at, 'command'],
      message: `${JSON.stringify(knownPlaceholders(p.command)[0]!.text)} in a shell command line is never substituted (it would be spliced into shell text): pass it in "args" (run without a shell) or "env"`,
    });
  if (Array.isArray(p.args))
    for (const [i, a] of p.args.entries()) checkText(a, [...at, 'args', i], keys, add);
  checkMap(p.env, [...at, 'env'], keys, add);
}

export function probePlaceholderChecks(probes: unknown, keys: PlaceholderKeys, add: Add): void {
  if (!Array.isArray(probes)) return;
  probes.forEach((raw, i) => {
    const p = obj(raw);
    const at: PropertyKey[] = ['probes', i];
    switch (p.kind) {
      case 'http':
        checkText(p.url, [...at, 'url'], keys, add);
        checkMap(p.headers, [...at, 'headers'], keys, add);
        checkJson(p.body, [...at, 'body'], keys, add);
        break;
      case 'browser':
        checkText(p.url, [...at, 'url'], keys, add);
        break;
      case 'sql':
        if (typeof p.query === 'string') {
          // Only the SQL code is scanned: text in quotes or comments stays the query's own.
          const code = sqlSegments(p.query)
            .filter((seg) => seg.code)
            .map((seg) => seg.text)
            .join(' ');
          checkText(code, [...at, 'query'], keys, add);
          for (const message of sqlPlaceholderProblems(p.query)) add({ path: [...at, 'query'], message });
        }
        break;
      case 'command':
        checkCommandProbe(p, at, keys, add);
        break;
    }
  });
}
