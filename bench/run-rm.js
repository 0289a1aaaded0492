// `tslab run --rm busybox true` against `podman --runtime runc run --rm` of the same busybox image, alternating
// rounds so both see the same machine noise. Prints medians and the ratio; asserts nothing. Needs podman
// (apt-get install podman); the image is imported into podman from tslab's own busybox rootfs, offline, and
// removed afterwards. Both use their default (bridge) networking.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const rounds = Number(process.env.BENCH_ROUNDS ?? 10);
const data = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-bench-run-'));
const env = { ...process.env, TSLAB_DATA_DIR: data };
const podmanImage = 'localhost/tslab-bench-busybox:latest';
// This VM's bounding set lacks CAP_SYS_RESOURCE: podman's default rlimits are refused, so pin them.
const podmanRun = ['--runtime', 'runc', '--cgroup-manager', 'cgroupfs', 'run', '--rm', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024', podmanImage, 'true'];
const tslab = path.join(repo, 'bin', 'tslab.cjs');

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function timed(command, args) {
  const started = process.hrtime.bigint();
  const result = spawnSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'], env });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr}`);
  return ms;
}

if (spawnSync('podman', ['--version']).status !== 0) {
  console.log('podman is not installed (apt-get install podman): nothing to compare against');
  process.exit(0);
}
try {
  const rootfs = execFileSync(tslab, ['rootfs'], { env, encoding: 'utf8' }).trim();
  execFileSync('sh', ['-c', `tar -C '${rootfs}' -c . | podman import - ${podmanImage}`], { stdio: 'ignore' });
  const runs = {
    podman: () => timed('podman', podmanRun),
    tslab: () => timed(tslab, ['run', '--rm', 'busybox', 'true']),
  };
  const samples = { podman: [], tslab: [] };
  for (const name of Object.keys(runs)) runs[name]();
  for (let i = 0; i < rounds; i++) for (const name of Object.keys(runs)) samples[name].push(runs[name]());
  const podman = median(samples.podman);
  const ours = median(samples.tslab);
  console.log(`${rounds} rounds each, alternating`);
  console.log(`podman --runtime runc run --rm busybox true: median ${podman.toFixed(0)} ms`);
  console.log(`tslab run --rm busybox true: median ${ours.toFixed(0)} ms`);
  console.log(`ratio: ${(ours / podman).toFixed(2)}x podman (target <= 0.75x)`);
} finally {
  spawnSync('podman', ['rmi', '-f', podmanImage], { stdio: 'ignore' });
  fs.rmSync(data, { recursive: true, force: true });
}
