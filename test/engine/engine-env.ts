// Shared by the engine tests: `node bin/tslab.cjs ...` run the way a user runs docker, with every piece of
// engine state (image store, containers, runtime state, IPAM) in one data dir per test file under the run's
// temp dir (so the global leak check covers its mounts and processes). Each file's scope removes, after
// every test, the containers that test left (rm -f), and after the file checks that nothing of the engine
// is left on the host: no container record, runtime state, overlay mount, process, cgroup, veth, port proxy
// or bridge `tslab0`; then deletes the data dir. It only ends processes it started itself, by pid.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as zlib from 'node:zlib';
import * as tar from 'tar';
import { afterAll, afterEach, beforeAll, expect, inject } from 'vitest';
import { cgroupMountPoints, isMountedUnder } from '../helpers/leaks.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const TSLAB = path.join(REPO_ROOT, 'bin', 'tslab.cjs');
export const BRIDGE = 'tslab0';

export interface TslabResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Milliseconds from spawn to exit. */
  ms: number;
  timedOut: boolean;
}

export interface TslabOptions {
  /** Written to the program's stdin (then closed); without it stdin is /dev/null. */
  input?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function describeResult(r: TslabResult): string {
  return `exit ${r.code ?? r.signal}${r.timedOut ? ' (timed out)' : ''} after ${r.ms} ms\n--- stdout ---\n${r.stdout}--- stderr ---\n${r.stderr}`;
}

/** The run's temp dir from global setup (so the run's leak check covers it). */
function runBase(): string {
  const provided = (inject as unknown as (key: string) => { base?: string } | undefined)('tslabTest');
  return provided?.base ?? path.join(os.tmpdir(), `tslabtest-${randomBytes(3).toString('hex')}`);
}

/** Children of runTslab still running: killed (their process group, by pid) if the file gives up on them. */
const running = new Set<ChildProcess>();

function killGroup(child: ChildProcess): void {
  if (!child.pid) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // gone
  }
}

function runTslab(dataDir: string, args: string[], opts: TslabOptions = {}): Promise<TslabResult> {
  const started = Date.now();
  const child = spawn(process.execPath, [TSLAB, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, NO_COLOR: '1', TSLAB_DATA_DIR: dataDir, ...opts.env },
    stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    detached: true,
  });
  running.add(child);
  if (opts.input !== undefined) {
    child.stdin!.on('error', () => undefined); // the program may exit before it reads
    child.stdin!.end(opts.input);
  }
  const out = { stdout: '', stderr: '' };
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (out.stdout += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (out.stderr += s));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child);
  }, opts.timeoutMs ?? 60_000);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      resolve({ code, signal, ...out, ms: Date.now() - started, timedOut });
    });
  });
}

/** What `tslab --json inspect` says about a container. */
export interface ContainerInfo {
  Type: 'container';
  id: string;
  name: string;
  image: string;
  status: 'created' | 'running' | 'exited';
  exitCode?: number;
  pid?: number;
  stopSignal: string;
  network: { mode: string; address?: string; gateway?: string; prefixLength?: number; hostVeth?: string };
  ports: Array<{ hostPort: number; containerPort: number }>;
  proxies: Array<{ pid: number; startTime: number }>;
  rootfs: string;
  logFile: string;
}

export interface EngineScope {
  dataDir: string;
  /** A scratch dir of the file (host dirs for -v, archives, env files). */
  scratch: string;
  tslab(args: string[], opts?: TslabOptions): Promise<TslabResult>;
  /** Runs tslab and expects exit 0; returns stdout. */
  ok(args: string[], opts?: TslabOptions): Promise<string>;
  inspect(nameOrId: string): Promise<ContainerInfo>;
  /** `tslab --json ps -a`. */
  psAll(): Promise<ContainerInfo[]>;
  /** Polls `--json ps -a` until `check` holds for the container (or it is gone, with `gone`). */
  waitFor(nameOrId: string, check: (c: ContainerInfo | undefined) => boolean, timeoutMs?: number): Promise<ContainerInfo | undefined>;
}

/** Directories named as container ids (64 hex digits) in every cgroup hierarchy. */
function containerCgroups(): string[] {
  const found: string[] = [];
  const walk = (dir: string, left: number): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const p = path.join(dir, e.name);
      if (/^[0-9a-f]{64}$/.test(e.name)) found.push(p);
      else if (left > 1) walk(p, left - 1);
    }
  };
  for (const mp of cgroupMountPoints()) walk(mp, 5);
  return found.sort();
}

export function linkExists(name: string): boolean {
  try {
    execFileSync('ip', ['link', 'show', 'dev', name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function vethNames(): string[] {
  return execFileSync('ip', ['-o', 'link', 'show', 'type', 'veth'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => /^\d+:\s*([^:@\s]+)/.exec(l)?.[1])
    .filter((n): n is string => Boolean(n))
    .sort();
}

function readOr(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** Processes of this data dir: rooted below it (containers), or started with it (monitors, port proxies). */
export function processesOf(dataDir: string): string[] {
  const found: string[] = [];
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    let root = '';
    try {
      root = fs.readlinkSync(`/proc/${pid}/root`);
    } catch {
      /* gone or a kernel thread */
    }
    const environ = readOr(`/proc/${pid}/environ`).split('\0');
    const cmdline = readOr(`/proc/${pid}/cmdline`).split('\0').join(' ').trim();
    if (root === dataDir || root.startsWith(`${dataDir}/`) || environ.includes(`TSLAB_DATA_DIR=${dataDir}`)) {
      found.push(`pid ${pid}: ${cmdline} (root ${root})`);
    }
  }
  return found;
}

/** What the engine left in the data dir and on the host. */
export function engineLeftovers(dataDir: string, before: { veth: string[]; cgroups: string[] }): string[] {
  const left: string[] = [];
  for (const sub of ['containers', 'runtime']) {
    const dir = path.join(dataDir, sub);
    if (fs.existsSync(dir)) for (const e of fs.readdirSync(dir)) left.push(`${sub}/${e} in the data dir`);
  }
  if (isMountedUnder(dataDir)) left.push(`a mount below ${dataDir}`);
  if (linkExists(BRIDGE)) left.push(`the bridge ${BRIDGE}`);
  // Only the engine's own veths ("tsl" + 12 hex, src/net/container-net.ts): the lab's and the kernel tests'
  // may come and go meanwhile (test/run-suite.mjs runs them beside these files).
  const veth = new Set(before.veth);
  for (const v of vethNames()) if (!veth.has(v) && /^tsl[0-9a-f]{12}$/.test(v)) left.push(`veth ${v}`);
  const cgroups = new Set(before.cgroups);
  for (const c of containerCgroups()) if (!cgroups.has(c)) left.push(`cgroup ${c}`);
  for (const p of processesOf(dataDir)) left.push(`process ${p}`);
  const ipam = path.join(dataDir, 'network', `ipam-${BRIDGE}.json`);
  if (fs.existsSync(ipam)) {
    const allocations = (JSON.parse(fs.readFileSync(ipam, 'utf8')) as { allocations?: Record<string, string> }).allocations ?? {};
    for (const [owner, address] of Object.entries(allocations)) left.push(`address ${address} still allocated to ${owner}`);
  }
  return left;
}

/**
 * One data dir for a test file, with cleanup: rm -f of every container after each test (unless
 * removeAfterEach is false) and after the file, then the leftovers check (which fails the file) and the
 * data dir's removal. Tests remove what they make themselves; this is the net under them.
 */
export function engineScope(label: string, opts: { removeAfterEach?: boolean; dataDir?: string } = {}): EngineScope {
  const dataDir = opts.dataDir ?? path.join(runBase(), `engine-${label}-${randomBytes(3).toString('hex')}`);
  const scratch = `${dataDir}-scratch`;
  let before: { veth: string[]; cgroups: string[] } = { veth: [], cgroups: [] };

  const tslab = (args: string[], opts?: TslabOptions) => runTslab(dataDir, args, opts);
  const ok = async (args: string[], opts?: TslabOptions) => {
    const r = await tslab(args, opts);
    expect(r.code, `tslab ${args.join(' ')}: ${describeResult(r)}`).toBe(0);
    return r.stdout;
  };
  const inspect = async (nameOrId: string) => {
    const [info] = JSON.parse(await ok(['--json', 'inspect', nameOrId])) as ContainerInfo[];
    return info;
  };
  const psAll = async () => JSON.parse(await ok(['--json', 'ps', '-a'])) as ContainerInfo[];
  const waitFor = async (nameOrId: string, check: (c: ContainerInfo | undefined) => boolean, timeoutMs = 10_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const c = (await psAll()).find((r) => r.name === nameOrId || r.id === nameOrId || r.id.startsWith(nameOrId));
      if (check(c)) return c;
      if (Date.now() > deadline) throw new Error(`container ${nameOrId} did not get there in ${timeoutMs} ms; last seen: ${JSON.stringify(c, null, 2)}`);
      await sleep(100);
    }
  };

  beforeAll(() => {
    fs.mkdirSync(dataDir, { recursive: true });
    fs.mkdirSync(scratch, { recursive: true });
    before = { veth: vethNames(), cgroups: containerCgroups() };
  });

  const removeAll = async () => {
    const left = fs.existsSync(path.join(dataDir, 'containers')) ? await psAll() : [];
    for (const c of left) await tslab(['rm', '-f', c.id]);
  };

  // Files with concurrent tests clean up after the file only: a sweep after one test would remove the
  // containers of the others.
  if (opts.removeAfterEach !== false) afterEach(removeAll);

  afterAll(async () => {
    for (const child of running) killGroup(child);
    await removeAll();
    // A killed container's monitor needs a moment to record the end and release its network.
    let left = engineLeftovers(dataDir, before);
    for (let i = 0; i < 30 && left.length; i++) {
      await sleep(100);
      left = engineLeftovers(dataDir, before);
    }
    if (!isMountedUnder(dataDir)) fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(scratch, { recursive: true, force: true });
    expect(left, 'what the engine tests of this file left behind').toEqual([]);
  });

  return { dataDir, scratch, tslab, ok, inspect, psAll, waitFor };
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Whether pid is still a live process (not a zombie). */
export function alive(pid: number): boolean {
  const stat = readOr(`/proc/${pid}/stat`);
  if (!stat) return false;
  return /\) (\S)/.exec(stat)?.[1] !== 'Z';
}

// --- images --------------------------------------------------------------------------------------------

export const STATIC_BUSYBOX = '/bin/busybox';
const APPLETS = ['sh', 'echo', 'cat', 'id', 'pwd', 'sleep', 'true', 'ls', 'hostname', 'touch'];

/**
 * A root filesystem layer as a plain tar: a copy of the host's static busybox (mode 0755) with a few applet
 * links, /etc/passwd and /etc/group, the usual empty dirs, and the dirs in `extraDirs`.
 */
export function busyboxLayerTar(work: string, extraDirs: string[] = []): Buffer {
  const dir = fs.mkdtempSync(path.join(work, 'layer-'));
  for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root', ...extraDirs]) fs.mkdirSync(path.join(dir, d), { recursive: true });
  fs.chmodSync(path.join(dir, 'tmp'), 0o1777);
  fs.copyFileSync(STATIC_BUSYBOX, path.join(dir, 'bin/busybox'));
  fs.chmodSync(path.join(dir, 'bin/busybox'), 0o755);
  for (const a of APPLETS) fs.symlinkSync('busybox', path.join(dir, 'bin', a));
  fs.writeFileSync(path.join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/work:/bin/sh\n');
  fs.writeFileSync(path.join(dir, 'etc/group'), 'root:x:0:\napp:x:1000:\n');
  const file = `${dir}.tar`;
  tar.c({ file, cwd: dir, sync: true, portable: true }, fs.readdirSync(dir).sort());
  const data = fs.readFileSync(file);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(file, { force: true });
  return data;
}

export function gzip(data: Buffer): Buffer {
  return zlib.gzipSync(data);
}
