// `exec`: runs a new process in a running container, as `runc exec` does. The process comes from
// --process (a process.json, what conmon and the containerd shim send) or from the container's
// config.json with the command and flags applied over it; either way it passes the same checks as
// config.json's process. The container's init must still be the same process (pid and start time).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadCgroupManager } from '../cgroups/index.js';
import { RuntimeError, fileError } from '../runtime-error.js';
import { type ExecRequest, type ExecTarget, launchDetachedExec, launchExec } from '../exec/launch.js';
import { MAX_CONFIG_BYTES, parseSpec, readConfigText } from '../spec/load.js';
import type { Process } from '../spec/types.js';
import { type StateStore, writeFileAtomic } from '../state/store.js';
import { containerStatus } from '../state/status.js';
import { joinCgroups } from '../steps/join-container.js';
import { holdForeground } from '../terminal/foreground.js';

export interface ExecOptions {
  id: string;
  /** --process: a process.json; then `args` must be empty. */
  processFile?: string;
  args: string[];
  /** --tty as given; undefined when not given (then process.json's terminal counts). */
  tty?: boolean;
  consoleSocket?: string;
  detach: boolean;
  pidFile?: string;
  cwd?: string;
  env: string[];
  /** --user: uid[:gid]. */
  user?: string;
  additionalGids: string[];
  caps: string[];
  noNewPrivs: boolean;
  preserveFds: number;
  processLabel?: string;
  apparmor?: string;
  ignorePaused: boolean;
}

/** Checks a process as config.json's process is checked (args, cwd, env, ids, capabilities, rlimits...). */
function checkedProcess(proc: unknown, file: string): Process {
  const skeleton = { ociVersion: '1.0.2', root: { path: 'rootfs' }, process: proc };
  return parseSpec(JSON.stringify(skeleton), file).process!;
}

/** process.json, read as hostile input: a regular file of at most MAX_CONFIG_BYTES, opened without blocking. */
function readProcessFile(file: string): unknown {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
  } catch (err) {
    throw fileError('open the process file', file, err);
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) throw new RuntimeError(`the process file ${file} is not a regular file`);
    if (stat.size > MAX_CONFIG_BYTES) throw new RuntimeError(`the process file ${file} is ${stat.size} bytes, more than the ${MAX_CONFIG_BYTES} tslab reads`);
    const buf = Buffer.alloc(stat.size);
    let length = 0;
    for (let n: number; length < buf.length && (n = fs.readSync(fd, buf, length, buf.length - length, null)) > 0; ) length += n;
    try {
      return JSON.parse(buf.toString('utf8', 0, length));
    } catch (err) {
      throw new RuntimeError(`the process file ${file} is not JSON: ${(err as Error).message}`);
    }
  } finally {
    fs.closeSync(fd);
  }
}

function number(value: string, what: string): number {
  if (!/^\d{1,10}$/.test(value)) throw new RuntimeError(`${what} ${JSON.stringify(value)} is not a number from 0 to 2147483647`);
  return Number(value);
}

/** runc's getProcess: the bundle's process with the command line's changes over it. */
function processFromFlags(bundle: string, opts: ExecOptions): Process {
  const { file, text } = readConfigText(bundle);
  const proc = parseSpec(text, file).process!;
  proc.args = opts.args;
  if (opts.cwd) proc.cwd = opts.cwd;
  if (opts.apparmor) proc.apparmorProfile = opts.apparmor;
  if (opts.processLabel) proc.selinuxLabel = opts.processLabel;
  if (opts.caps.length) {
    const caps = (proc.capabilities ??= {});
    for (const set of ['bounding', 'effective', 'permitted', 'ambient'] as const) caps[set] = [...(caps[set] ?? []), ...opts.caps];
  }
  proc.env = [...(proc.env ?? []), ...opts.env];
  proc.terminal = opts.tty ?? false;
  if (opts.noNewPrivs) proc.noNewPrivileges = true;
  if (opts.user) {
    const [uid, gid] = opts.user.split(':', 2);
    proc.user = { ...proc.user, uid: number(uid, 'the uid of --user') };
    if (gid !== undefined) proc.user.gid = number(gid, 'the gid of --user');
  }
  const gids = opts.additionalGids.map((g) => number(g, '--additional-gids'));
  if (gids.length) proc.user.additionalGids = [...(proc.user.additionalGids ?? []), ...gids];
  return checkedProcess(proc, 'the exec command line');
}

function buildProcess(bundle: string, opts: ExecOptions): Process {
  if (!opts.processFile) {
    if (!opts.args.length) throw new RuntimeError('exec needs a command, or --process with a process.json');
    return processFromFlags(bundle, opts);
  }
  if (opts.args.length) throw new RuntimeError('exec takes either --process or a command, not both');
  const proc = checkedProcess(readProcessFile(opts.processFile), opts.processFile);
  if (opts.tty !== undefined) proc.terminal = opts.tty;
  return proc;
}

/** runc's checkTerminal, for exec. */
function checkTerminal(proc: Process, opts: ExecOptions): void {
  if (opts.detach && proc.terminal && !opts.consoleSocket) throw new RuntimeError('cannot allocate tty if runc will detach without setting console socket');
  if ((!opts.detach || !proc.terminal) && opts.consoleSocket) throw new RuntimeError('cannot use console socket if runc will not detach or allocate tty');
}

/** Runs the process; returns its exit status (foreground) or 0 once it runs (--detach). */
export async function execContainer(store: StateStore, opts: ExecOptions): Promise<number> {
  const record = store.read(opts.id);
  const status = containerStatus(store, record);
  if (status === 'stopped') throw new RuntimeError('cannot exec in a stopped container');
  if (status === 'paused' && !opts.ignorePaused) throw new RuntimeError('cannot exec in a paused container (use --ignore-paused to override)');
  const proc = buildProcess(record.bundle, opts);
  checkTerminal(proc, opts);
  const cgroups = loadCgroupManager(record.cgroups);
  const dirs = Object.values(cgroups.paths);
  const target: ExecTarget = { pid: record.pid, startTime: record.pidStartTime, joinCgroups: (pid) => joinCgroups(dirs, pid), seccomp: record.seccomp };
  const request: ExecRequest = { process: proc, preserveFds: opts.preserveFds, consoleSocket: opts.consoleSocket };
  const writePidFile = (pid: number): void => {
    if (opts.pidFile) writeFileAtomic(path.resolve(opts.pidFile), String(pid));
  };
  if (opts.detach) {
    // Left to our caller to reap, as runc leaves it: conmon and the containerd shim wait for this pid.
    writePidFile((await launchDetachedExec(target, request)).pid);
    return 0;
  }
  const { child, terminalMaster, exited } = await launchExec(target, request);
  writePidFile(child.pid!);
  return waitInForeground(child.pid!, exited, terminalMaster);
}

/** Forwards signals to the process (and relays its terminal) until it ends; returns its status. */
async function waitInForeground(pid: number, exited: Promise<number>, terminalMaster: number | undefined): Promise<number> {
  const foreground = holdForeground(pid, terminalMaster);
  try {
    const status = await exited;
    await foreground.drain();
    return status;
  } finally {
    foreground.close();
  }
}
