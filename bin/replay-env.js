#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in lib/ (built by `npm ci` through the prepare script).
import('../lib/cli/main.js')
  .then((m) => m.main(process.argv))
  .catch((err) => {
    process.stderr.write(
      `replay-env: could not start (${err?.message ?? err}). Run \`npm run build\` first.\n`,
    );
    process.exit(2);
  });
