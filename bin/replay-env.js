#!/usr/bin/env -S node --max-semi-space-size=4
// Thin launcher: the compiled CLI lives in lib/ (built by `npm ci` through the prepare script).
//
// `--max-semi-space-size=4` (MB) caps V8's young generation. Export and materialize stream rows
// and allocate many short-lived objects; with the default (16 MB semi-spaces, grown on demand)
// the young generation alone adds ~30-50 MB of peak RSS for no speed gain at this size (see
// bench/RESULTS.md). The flag must be given on node's command line: `v8.setFlagsFromString`
// here is too late (the heap is already configured and keeps its 16 MB maximum). The shebang's
// `env -S` splits the arguments (coreutils >= 8.30, macOS, FreeBSD; npm's Windows shims read it).
import('../lib/cli/main.js')
  .then((m) => m.main(process.argv))
  .catch((err) => {
    process.stderr.write(
      `replay-env: could not start (${err?.message ?? err}). Run \`npm run build\` first.\n`,
    );
    process.exit(2);
  });
