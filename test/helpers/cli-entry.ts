// Entry point for running the CLI from its TypeScript sources in a child process (tests only).
import { main } from '../../src/cli/main.js';

await main(process.argv);
