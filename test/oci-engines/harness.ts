// The shared harness of the engine tests: real podman, containerd and Docker Engine driving the OCI runtime
// under test (TSLAB_TEST_RUNTIME=runc|tslab) through its runc command line, each with private roots.
//
// - `sh(file, args)` runs a client command with stdout/stderr in files (a detached container may keep a
//   pipe open for ever) and a timeout after which the process we started is killed.
// - `knownFailures(table)` is the one place a file names checks that fail on tslab-runtime only: such a
//   check still runs for real and must still fail; once it passes, its own test fails and says to remove
//   the entry (and an entry naming no test fails too).
// - the image: a tar of tslab's built-in busybox rootfs, imported once per file by each engine.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { expect, test } from 'vitest';
import { ensureDefaultRootfs } from '../../src/fs/busybox-rootfs.js';
import { findLeaksSettled, formatLeaks, cgroupMountPoints, type HostSnapshot } from '../helpers/leaks.js';
import { REPO_ROOT, runtimeName } from '../helpers/runtime.js';
import { testRun } from '../helpers/bundle.js';

/** The runtime's absolute path, as engines need it (conmon and the shim call it with runc's argv). */
export function runtimePath(): string {
  if (runtimeName() === 'tslab') return path.join(REPO_ROOT, 'bin/tslab-runtime.cjs');
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const p = path.join(dir, 'runc');
    if (dir && fs.existsSync(p)) return p;
  }
  throw new Error('runc is not on the PATH (apt-get install runc)');
}

export interface CmdResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  argv: string[];
  ms: number;
}

export interface CmdOptions {
  env?: NodeJS.ProcessEnv;
  input?: string;
  /**
   * Give the command a stdin that stays open, with nothing in it, until it exits: `script` turns an EOF on its
   * stdin into a byte typed at the container's terminal (seen in CI as "^@" mid-output, and a lost size).
   */
  holdStdin?: boolean;
  timeoutMs?: number;
  cwd?: string;
}

let ioCounter = 0;

/** Runs a command to its exit; output through files in `ioDir`; killed (the one process we started) on timeout. */
export function sh(ioDir: string, file: string, args: string[], opts: CmdOptions = {}): Promise<CmdResult> {
  const n = ++ioCounter;
  fs.mkdirSync(ioDir, { recursive: true });
  const outPath = path.join(ioDir, `${n}.out`);
  const errPath = path.join(ioDir, `${n}.err`);
  const outFd = fs.openSync(outPath, 'w+');
  const errFd = fs.openSync(errPath, 'w+');
  const started = Date.now();
  const child = spawn(file, args, {
    // Engines drop files into their working directory (conmon writes `oom` there): the test's own, not the repo.
    cwd: opts.cwd ?? ioDir,
    env: { ...process.env, ...(opts.env ?? {}) },
    stdio: [opts.input !== undefined || opts.holdStdin ? 'pipe' : 'ignore', outFd, errFd],
  });
  fs.closeSync(outFd);
  fs.closeSync(errFd);
  if (opts.input !== undefined && child.stdin) {
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input);
  }
  if (opts.holdStdin && child.stdin) {
    child.stdin.on('error', () => {});
    child.on('exit', () => child.stdin?.destroy());
  }
  const take = (p: string): string => {
    try {
      return fs.readFileSync(p, 'utf8');
    } catch {
      return '';
    } finally {
      fs.rmSync(p, { force: true });
    }
  };
  return new Promise((resolve) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 60_000);
    const done = (code: number | null, signal: NodeJS.Signals | null, extra = ''): void => {
      clearTimeout(timer);
      resolve({
        code: timedOut ? null : code,
        signal,
        stdout: take(outPath),
        stderr: take(errPath) + extra,
        timedOut,
        argv: [file, ...args],
        ms: Date.now() - started,
      });
    };
    child.on('error', (err) => done(null, null, String(err)));
    child.on('exit', (code, signal) => done(code, signal));
  });
}

export function show(r: CmdResult): string {
  const how = r.timedOut ? 'TIMED OUT' : r.code !== null ? `exit ${r.code}` : `signal ${r.signal}`;
  return `$ ${r.argv.join(' ')}\n-> ${how} (${r.ms} ms)\nstdout: ${r.stdout.trim().slice(-3000)}\nstderr: ${r.stderr.trim().slice(-3000)}`;
}

/** Exits 0; returns stdout. */
export function ok(r: CmdResult): string {
  expect(r.code, show(r)).toBe(0);
  return r.stdout;
}

/** Exits with `code`. */
export function exits(r: CmdResult, code: number): CmdResult {
  expect(r.code, show(r)).toBe(code);
  return r;
}

/**
 * The host's hard limits for NOFILE and NPROC, capped where engines' own processes are capped: this VM
 * lacks CAP_SYS_RESOURCE, so a container's rlimit above its caller's hard limit is refused (EPERM), and
 * podman starts conmon with NPROC 32768.
 */
export function hostUlimits(): { nofile: number; nproc: number } {
  const limits = fs.readFileSync('/proc/self/limits', 'utf8');
  const hard = (name: string): number => {
    const m = new RegExp(`^${name}\\s+\\S+\\s+(\\S+)`, 'm').exec(limits);
    if (!m) throw new Error(`no "${name}" in /proc/self/limits`);
    return m[1] === 'unlimited' ? 1 << 20 : Number(m[1]);
  };
  return { nofile: Math.min(hard('Max open files'), 1 << 20), nproc: Math.min(hard('Max processes'), 32768) };
}

/** A tar of tslab's built-in busybox rootfs (made once per file), for `podman import`, `ctr images import`, `docker import`. */
export function busyboxTar(dir: string): string {
  const tarPath = path.join(dir, 'busybox.tar');
  const rootfs = ensureDefaultRootfs();
  fs.mkdirSync(dir, { recursive: true });
  const r = spawnSync('tar', ['-C', rootfs, '-cf', tarPath, '.'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tar -C ${rootfs} -cf ${tarPath} . failed: ${r.stderr}`);
  return tarPath;
}

/**
 * The one table of checks known to fail on tslab-runtime only (name -> why). Returns `check`, used in
 * place of `test`: a listed check runs for real on tslab and must fail (its error is printed); when it
 * passes, the test fails, asking for the entry to be removed. A last test checks every entry names a check.
 */
export function knownFailures(table: Record<string, string>): {
  check: (name: string, fn: () => Promise<void>, timeoutMs?: number) => void;
  checkTable: () => void;
} {
  const names = new Set<string>();
  const onTslab = runtimeName() === 'tslab';
  const check = (name: string, fn: () => Promise<void>, timeoutMs?: number): void => {
    names.add(name);
    const reason = onTslab ? table[name] : undefined;
    test.concurrent(
      reason ? `${name} [known tslab failure: ${reason}]` : name,
      async () => {
        if (!reason) return fn();
        let error: unknown = null;
        try {
          await fn();
        } catch (err) {
          error = err;
        }
        expect(error, `"${name}" now passes on tslab-runtime: remove it from the known-failures table`).not.toBeNull();
        console.warn(`[known tslab failure] ${name}: ${reason}\n  ${String(error).split('\n').slice(0, 6).join('\n  ')}`);
      },
      timeoutMs,
    );
  };
  const checkTable = (): void => {
    test('the known-failures table names only checks of this file', () => {
      expect(Object.keys(table).filter((n) => !names.has(n))).toEqual([]);
    });
  };
  return { check, checkTable };
}

/** Polls until `fn` is true (or throws, naming `what`). */
export async function until(fn: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * The cgroup directories `/<name>` made by engines at the root of each hierarchy, removed bottom-up. A
 * process still in one (a container its engine could not end) is SIGKILLed first and reported.
 */
export function removeCgroupTree(name: string): string[] {
  const errors: string[] = [];
  const rmTree = (mp: string, rel: string): void => {
    const dir = path.join(mp, rel);
    let entries: fs.Dirent[] = [];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) if (e.isDirectory()) rmTree(mp, path.join(rel, e.name));
    if (killCgroupProcesses(rel) > 0) {
      errors.push(`processes were left in ${dir} (killed)`);
      spawnSync('sleep', ['0.5']);
    }
    try {
      fs.rmdirSync(dir);
    } catch (err) {
      errors.push(`${dir}: ${String(err)}`);
    }
  };
  for (const mp of cgroupMountPoints()) rmTree(mp, name);
  return errors;
}

/** This file's scope: a prefix for names and a temp dir under the run's base. */
export function fileScope(name: string): { prefix: string; dir: string } {
  const run = testRun();
  const dir = path.join(run.base, name);
  fs.mkdirSync(dir, { recursive: true });
  return { prefix: `${run.prefix}-${name}`, dir };
}

/** The file's leak assertion: nothing named with its prefix or under its dir is left (mounts, cgroups, processes...). */
export async function expectNoLeaks(prefix: string, dir: string, snapshot: HostSnapshot): Promise<void> {
  const leaks = await findLeaksSettled({ prefix, paths: [dir], stateRoots: [] }, snapshot);
  expect(leaks, formatLeaks(leaks)).toEqual([]);
}

/**
 * An OCI image layout tar around a rootfs tar (one uncompressed layer), for `ctr images import`, which
 * takes images, not root filesystems. `ref` becomes the image's name.
 */
export function ociImageTar(dir: string, rootfsTar: string, ref: string): string {
  const layout = path.join(dir, 'oci-layout');
  fs.rmSync(layout, { recursive: true, force: true });
  const blobs = path.join(layout, 'blobs', 'sha256');
  fs.mkdirSync(blobs, { recursive: true });
  const put = (data: Buffer): { digest: string; size: number } => {
    const hex = createHash('sha256').update(data).digest('hex');
    fs.writeFileSync(path.join(blobs, hex), data);
    return { digest: `sha256:${hex}`, size: data.length };
  };
  const layer = fs.readFileSync(rootfsTar);
  const layerDesc = put(layer);
  const config = put(
    Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['sh'] },
        rootfs: { type: 'layers', diff_ids: [layerDesc.digest] },
      }),
    ),
  );
  const manifest = put(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layerDesc }],
      }),
    ),
  );
  const tag = ref.slice(ref.lastIndexOf(':') + 1);
  fs.writeFileSync(path.join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  fs.writeFileSync(
    path.join(layout, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          ...manifest,
          platform: { architecture: 'amd64', os: 'linux' },
          annotations: { 'io.containerd.image.name': ref, 'org.opencontainers.image.ref.name': tag },
        },
      ],
    }),
  );
  const out = path.join(dir, 'busybox-oci.tar');
  const r = spawnSync('tar', ['-C', layout, '-cf', out, '.'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tar of the OCI layout failed: ${r.stderr}`);
  fs.rmSync(layout, { recursive: true, force: true });
  return out;
}

export interface Daemon {
  pid: number;
  /** SIGTERM to the daemon we started, then SIGKILL if it has not exited within `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  log(): string;
}

/** Starts a daemon (its output to `logFile`) and waits until the unix socket `socket` accepts connections. */
export async function startDaemon(file: string, args: string[], socket: string, logFile: string, env: NodeJS.ProcessEnv = {}): Promise<Daemon> {
  const fd = fs.openSync(logFile, 'a');
  const child = spawn(file, args, { cwd: path.dirname(logFile), stdio: ['ignore', fd, fd], env: { ...process.env, ...env } });
  fs.closeSync(fd);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => (gone = true));
  const log = (): string => fs.readFileSync(logFile, 'utf8').slice(-4000);
  const deadline = Date.now() + 60_000;
  while (!(await canConnect(socket))) {
    if (gone || Date.now() > deadline) {
      if (!gone) child.kill('SIGKILL');
      throw new Error(`${file} did not come up on ${socket}:\n${log()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    pid: child.pid!,
    log,
    async stop(graceMs = 15_000) {
      if (gone) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

function canConnect(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(socket);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

/** Entries of a directory (none if it does not exist). */
export function entries(dir: string): string[] {
  try {
    return fs.readdirSync(dir).sort();
  } catch {
    return [];
  }
}

/**
 * Processes still running with `dir` (this file's temp dir) in their command line after the daemon
 * stopped, e.g. a containerd shim whose task hung: SIGKILLed (they were started for this file), and
 * returned as a description so the file still fails.
 */
export function killLeftovers(dir: string): string[] {
  const found: string[] = [];
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    let cmdline = '';
    try {
      cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    } catch {
      continue;
    }
    if (!cmdline.includes(dir)) continue;
    found.push(`left running, killed: pid ${pid} ${cmdline}`);
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/**
 * Inside a container with a terminal: its name, then its size. The first TCGETS right after the engine
 * attaches can fail with ECHILD (runc too, ENGINES.md), and the engine sets the size after attaching (seen
 * in CI as no size on runc, 24 80 on tslab), so until a size other than none, 0 0 or the default 24 80 is
 * there it is asked again, for up to 2 s; the tests give other sizes.
 */
export const TTY_PROBE =
  'tty; for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do s=$(stty size 2>/dev/null); ' +
  'case "$s" in ""|"0 0"|"24 80") sleep 0.1;; *) break;; esac; done; echo "$s"';

/**
 * SIGKILLs every process in the cgroup `/<rel>` of each hierarchy (a container of this file that its
 * engine could not end), so the engine can then reap and remove it. Returns how many it found.
 */
export function killCgroupProcesses(rel: string): number {
  const pids = new Set<number>();
  for (const mp of cgroupMountPoints()) {
    try {
      for (const p of fs.readFileSync(path.join(mp, rel, 'cgroup.procs'), 'utf8').split('\n')) if (p) pids.add(Number(p));
    } catch {
      // no such cgroup in this hierarchy
    }
  }
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
  return pids.size;
}
