// `node --import ./module-log.mjs …`: writes every module URL the process loads (ESM imports and
// CommonJS requires, resolved) to the file named by MODULE_LOG_OUT when it exits, one per line.
// test/cli-lazy-load.test.ts uses it to check which packages a command pulls in.
import { writeFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { MessageChannel } from 'node:worker_threads';

const out = process.env.MODULE_LOG_OUT;
const loaded = new Set();
const { port1, port2 } = new MessageChannel();
port1.on('message', (url) => loaded.add(url));
port1.unref();
register('./module-log-hooks.mjs', import.meta.url, { data: { port: port2 }, transferList: [port2] });
// CommonJS modules required from CommonJS (e.g. pg's own files) bypass the ESM hooks.
const require = createRequire(import.meta.url);
process.on('exit', () => {
  for (const id of Object.keys(require.cache)) loaded.add(id);
  if (out) writeFileSync(out, [...loaded].join('\n'));
});
