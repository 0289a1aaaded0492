// Start-up cost: `tslab-runtime run` vs `runc run` of /bin/true on the same busybox bundle, alternating
// so both see the same machine noise. Prints medians, the ratio, and the median time of each phase of
// tslab-runtime's run (from its --debug lines); asserts nothing. BENCH_RUNTIME: another executable to measure.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const rounds = Number(process.env.BENCH_ROUNDS ?? 20);
const tslabRuntime = process.env.BENCH_RUNTIME ?? path.join(repo, 'bin/tslab-runtime.cjs');
const work = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-bench-')), 'bundle');

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function timeRun(command, args, env = process.env, onStderr = () => {}) {
  const started = process.hrtime.bigint();
  const result = spawnSync(command, args, { cwd: work, stdio: ['ignore', 'ignore', 'pipe'], env });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr}`);
  onStderr(result.stderr.toString());
  return ms;
}

/** Phase name -> times (ms since the runtime's start), from lines like "debug: recorded (41.2 ms since start)". */
const phases = new Map();
function collectPhases(stderr) {
  for (const line of stderr.split('\n')) {
    const match = /debug: (.*?),? (?:pid \d+ |status \d+ )?\(([\d.]+) ms since start[^)]*\)/.exec(line);
    if (!match) continue;
    const name = match[1].replace(/ bench-tslab-\d+$/, '').replace(/ pid \d+$/, '');
    if (!phases.has(name)) phases.set(name, []);
    phases.get(name).push(Number(match[2]));
  }
}

try {
  // The same bundle a newcomer gets from `tslab bundle`: runc's default config, the built-in busybox rootfs.
  execFileSync(path.join(repo, 'bin/tslab.cjs'), ['bundle', work, '/bin/true'], { stdio: 'ignore' });
  execFileSync('runc', ['--version']);
  const runtimes = {
    runc: (i) => timeRun('runc', ['--root', path.join(work, 'runc-state'), 'run', `bench-runc-${i}`]),
    'tslab-runtime': (i) =>
      // Executed as an engine executes it, through its #! line.
      timeRun(tslabRuntime, ['--root', path.join(work, 'tslab-state'), '--debug', 'run', `bench-tslab-${i}`], process.env, i === 'warmup' ? undefined : collectPhases),
  };
  const samples = { runc: [], 'tslab-runtime': [] };
  for (const name of Object.keys(runtimes)) runtimes[name]('warmup');
  for (let i = 0; i < rounds; i++) {
    for (const name of Object.keys(runtimes)) samples[name].push(runtimes[name](i));
  }
  const nodeStart = median(Array.from({ length: 10 }, () => timeRun(process.execPath, ['-e', '0'])));
  // What each of the runtime's two Node processes pays: they start without NODE_EXTRA_CA_CERTS.
  const { NODE_EXTRA_CA_CERTS: _extraCerts, ...cleanEnv } = process.env;
  const nodeStartClean = median(Array.from({ length: 10 }, () => timeRun(process.execPath, ['-e', '0'], cleanEnv)));
  const runc = median(samples.runc);
  const tslab = median(samples['tslab-runtime']);
  console.log(`rounds: ${rounds} each, alternating, /bin/true in a busybox bundle (node ${process.version})`);
  console.log(`runc run           median ${runc.toFixed(1)} ms`);
  console.log(`tslab-runtime run  median ${tslab.toFixed(1)} ms`);
  console.log(`node -e 0          median ${nodeStart.toFixed(1)} ms (one bare Node start, for scale)`);
  if (process.env.NODE_EXTRA_CA_CERTS) {
    console.log(`node -e 0          median ${nodeStartClean.toFixed(1)} ms without NODE_EXTRA_CA_CERTS (as the runtime starts both its processes)`);
  }
  console.log(`ratio tslab-runtime/runc: ${(tslab / runc).toFixed(2)}x`);
  console.log('tslab-runtime run phases, median ms since its start:');
  for (const [name, times] of phases) console.log(`  ${median(times).toFixed(1).padStart(7)}  ${name}`);
} finally {
  fs.rmSync(path.dirname(work), { recursive: true, force: true });
}
