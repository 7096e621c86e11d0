/**
 * Child process for test/bad-inputs/action-inputs.test.ts: runs the Action's front door
 * (src/action/main.ts `run()`, what dist/index.js calls) once per case, with the case's inputs
 * as the runner passes them (INPUT_<NAME> environment variables), and prints one JSON line per
 * case: the exit code the step would end with and everything written to stdout/stderr.
 * One process for all cases: tsx compiles the Action once.
 */
import { run } from '../../src/action/main.js';

interface RunnerCase {
  id: string;
  env: Record<string, string>;
}

const cases = JSON.parse(process.argv[2]!) as RunnerCase[];
const baseEnv = { ...process.env };
const results: { id: string; code: number; stdout: string; stderr: string }[] = [];
const realOut = process.stdout.write.bind(process.stdout);
const realErr = process.stderr.write.bind(process.stderr);

for (const c of cases) {
  let stdout = '';
  let stderr = '';
  process.env = { ...baseEnv, ...c.env };
  process.exitCode = 0;
  process.stdout.write = ((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  }) as typeof process.stderr.write;
  try {
    await run();
  } finally {
    process.stdout.write = realOut;
    process.stderr.write = realErr;
  }
  results.push({ id: c.id, code: Number(process.exitCode ?? 0), stdout, stderr });
}
process.exitCode = 0;
realOut(`${JSON.stringify(results)}\n`);
