// Lifecycle cost: sequential create / start / wait / delete cycles of /bin/true on one busybox bundle,
// tslab-runtime against runc, one cycle of each in turn so both see the same machine noise. This is what an
// engine pays per container and what the lifecycle suites pay thousands of times. Prints the totals, the
// median cycle and the ratio, then checks nothing was left behind (state, cgroups, processes); asserts no time.
// BENCH_CYCLES (default 200) sets the count; BENCH_RUNTIME another tslab-runtime executable to measure.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const cycles = Number(process.env.BENCH_CYCLES ?? 200);
const tslabRuntime = process.env.BENCH_RUNTIME ?? path.join(repo, 'bin/tslab-runtime.cjs');
const top = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-bench-cycles-'));
const work = path.join(top, 'bundle');
const prefix = `bench-cycle-${process.pid}`;
const EXIT_TIMEOUT_MS = 10_000;

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Runs a runtime command. Its stderr goes to a file: a created init keeps it open, and a pipe would not end. */
function run(command, args) {
  const log = path.join(top, 'stderr');
  const fd = fs.openSync(log, 'w');
  try {
    const result = spawnSync(command, args, { cwd: work, stdio: ['ignore', 'ignore', fd] });
    if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${result.status ?? result.signal}): ${fs.readFileSync(log, 'utf8')}`);
  } finally {
    fs.closeSync(fd);
  }
}

/** Whether a process is there and not a zombie (the init is reparented away from us, so we cannot wait for it). */
function running(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

const pause = new Int32Array(new SharedArrayBuffer(4));

/** One create, start, wait for the init to exit, delete; returns its wall time in ms. */
function cycle(command, root, id) {
  const pidFile = path.join(top, `${id}.pid`);
  const started = process.hrtime.bigint();
  run(command, ['--root', root, 'create', '--pid-file', pidFile, id]);
  const pid = Number(fs.readFileSync(pidFile, 'utf8'));
  run(command, ['--root', root, 'start', id]);
  const deadline = Date.now() + EXIT_TIMEOUT_MS;
  while (running(pid)) {
    if (Date.now() > deadline) throw new Error(`${command}: container ${id} (pid ${pid}) still runs ${EXIT_TIMEOUT_MS} ms after start`);
    Atomics.wait(pause, 0, 0, 0.2);
  }
  run(command, ['--root', root, 'delete', id]);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  fs.rmSync(pidFile);
  return ms;
}

/** What a runtime left behind: state entries, cgroup directories named after our ids, processes in them. */
function leftovers(root) {
  const found = [];
  try {
    for (const name of fs.readdirSync(root)) if (name.startsWith(prefix)) found.push(path.join(root, name));
  } catch {
    // No state root: nothing left there.
  }
  const cgroups = execFileSync('find', ['/sys/fs/cgroup', '-maxdepth', '4', '-type', 'd', '-name', `${prefix}*`], { encoding: 'utf8' });
  found.push(...cgroups.split('\n').filter(Boolean));
  return found;
}

try {
  execFileSync(path.join(repo, 'bin/tslab.cjs'), ['bundle', work, '/bin/true'], { stdio: 'ignore' });
  execFileSync('runc', ['--version']);
  const runtimes = {
    runc: { command: 'runc', root: path.join(top, 'runc-state') },
    'tslab-runtime': { command: tslabRuntime, root: path.join(top, 'tslab-state') },
  };
  const samples = { runc: [], 'tslab-runtime': [] };
  for (const [name, r] of Object.entries(runtimes)) cycle(r.command, r.root, `${prefix}-${name}-warmup`);
  for (let i = 0; i < cycles; i++) {
    for (const [name, r] of Object.entries(runtimes)) samples[name].push(cycle(r.command, r.root, `${prefix}-${name}-${i}`));
  }
  const total = (name) => samples[name].reduce((a, b) => a + b, 0) / 1000;
  console.log(`${cycles} create/start/wait/delete cycles of /bin/true each, alternating (node ${process.version})`);
  for (const name of Object.keys(runtimes)) {
    console.log(`${name.padEnd(14)} total ${total(name).toFixed(1)} s, median cycle ${median(samples[name]).toFixed(1)} ms`);
  }
  console.log(`ratio tslab-runtime/runc: ${(total('tslab-runtime') / total('runc')).toFixed(2)}x (totals), ${(median(samples['tslab-runtime']) / median(samples.runc)).toFixed(2)}x (median cycles)`);
  for (const [name, r] of Object.entries(runtimes)) {
    const left = leftovers(r.root);
    console.log(left.length ? `${name} left behind: ${left.join(', ')}` : `${name} left nothing behind`);
  }
} finally {
  fs.rmSync(top, { recursive: true, force: true });
}
