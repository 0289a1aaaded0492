// The container's PID-1 stage: started by the orchestrator inside the new PID namespace, it builds the
// container around itself, reports ready, waits on the exec FIFO for `start`, then execve()s the program.
// Keep its imports few: every container start pays for them.
import type { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { O_CLOEXEC, O_NONBLOCK, O_RDONLY, O_WRONLY, close, open, write } from '../../linux/fs.js';
import { lastCapability } from '../../linux/capabilities.js';
import { IN_OPEN, closeInotify, inotifyWatch, nextInotifyEvents } from '../../linux/inotify.js';
import { SyscallError } from '../../linux/error.js';
import { CLONE_FS, CLONE_NEWCGROUP, CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWUTS, setns, unshare } from '../../linux/namespaces.js';
import { execve, setdomainname } from '../../linux/process.js';
import { NSFS_MAGIC } from '../../linux/nsfs.js';
import { O_PATH, PROC_SUPER_MAGIC, fstatfsType, setDumpable } from '../../linux/resolve.js';
import { prepareSeccomp } from '../process/libseccomp-filter.js';
import { allocateTerminal, becomeTerminalSession } from '../process/terminal.js';
import type { StagePlan } from './protocol.js';
import { sysctlName, sysctlNamespace } from '../spec/sysctl.js';
import type { NamespaceType, Spec, State } from '../spec/types.js';
import { setHostname } from '../steps/hostname.js';
import { bringUpInterface } from '../steps/loopback.js';
import { StageChannel } from './channel.js';
import { closePassage } from '../../fs/reachable.js';
import {
  applyIdentity,
  applyRlimits,
  assertNoHostFds,
  closeInheritedFds,
  enterCwd,
  environmentWithHome,
  findExecutable,
  prepareInheritance,
  setOomScoreAdj,
} from '../process/setup.js';
import { enterRootfs, finishRootfs, prepareRootfs } from './rootfs.js';

const NAMESPACE_FLAGS: Partial<Record<NamespaceType, number>> = {
  mount: CLONE_NEWNS,
  uts: CLONE_NEWUTS,
  ipc: CLONE_NEWIPC,
  network: CLONE_NEWNET,
  cgroup: CLONE_NEWCGROUP,
};

/** The namespaces a config can make the container change, by their name under /proc/PID/ns. */
const HOST_VISIBLE = { uts: 'uts', ipc: 'ipc', network: 'net' } as const;
type HostVisible = keyof typeof HOST_VISIBLE;

const TERMINATING_SIGNALS: NodeJS.Signals[] = ['SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGTERM', 'SIGUSR2', 'SIGALRM'];
const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGTERM: 15, SIGUSR2: 12, SIGALRM: 14 };

/** The calling thread's namespace of a type, as the kernel names it ("uts:[4026531838]"). */
function namespaceOf(type: HostVisible): string {
  return fs.readlinkSync(`/proc/thread-self/ns/${HOST_VISIBLE[type]}`);
}

function runtimeNamespaces(): Record<HostVisible, string> {
  return { uts: namespaceOf('uts'), ipc: namespaceOf('ipc'), network: namespaceOf('network') };
}

/**
 * Opens a namespace file to join. Looked at through an O_PATH fd first, which opens nothing: a FIFO would
 * block a plain open for ever and a device could act on being opened. Only an nsfs file is then reopened
 * (through the fd, so it is the same file) for setns.
 */
function openNamespace(nsPath: string, type: NamespaceType): number {
  let probe: number;
  try {
    probe = open(nsPath, O_PATH | O_CLOEXEC);
  } catch (err) {
    throw new Error(`cannot join the ${type} namespace at ${nsPath}: ${(err as Error).message}`);
  }
  try {
    if (fstatfsType(probe, nsPath) !== NSFS_MAGIC) {
      throw new Error(`cannot join the ${type} namespace at ${nsPath}: it is not a namespace file (those are /proc/PID/ns/* or bind mounts of them)`);
    }
    return open(`/proc/thread-self/fd/${probe}`, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  } finally {
    close(probe);
  }
}

/** Joins namespaces given by path; returns the unshare() flags of the ones to create. */
function joinNamespaces(plan: StagePlan): { create: number; joinedMount: boolean } {
  let create = 0;
  let joinedMount = false;
  for (const ns of plan.spec.linux?.namespaces ?? []) {
    const flag = NAMESPACE_FLAGS[ns.type];
    if (flag === undefined) continue; // pid was handled by the orchestrator before we were born
    if (!ns.path) {
      create |= flag;
      continue;
    }
    const fd = openNamespace(ns.path, ns.type);
    try {
      // A multithreaded process must stop sharing its fs state before it may change mount namespace.
      if (flag === CLONE_NEWNS) {
        unshare(CLONE_FS);
        joinedMount = true;
      }
      setns(fd, flag, ns.path);
    } finally {
      close(fd);
    }
  }
  return { create, joinedMount };
}

/**
 * Defence in depth under the config validator: hostname, domainname and sysctls change the namespace the
 * container is in, so each must be one the container does not share with the runtime (the host). Compared
 * by the kernel's own namespace ids, so a path that names the runtime's own namespace is caught too.
 */
function refuseHostChanges(spec: Spec, runtime: Record<HostVisible, string>): void {
  const shared = (type: HostVisible) => namespaceOf(type) === runtime[type];
  const why = (type: HostVisible) => `the container shares the ${HOST_VISIBLE[type]} namespace of the host (add {"type": "${type}"} without a path to linux.namespaces)`;
  if (spec.hostname && shared('uts')) throw new Error(`refusing to set hostname ${JSON.stringify(spec.hostname)}: ${why('uts')}`);
  if (spec.domainname && shared('uts')) throw new Error(`refusing to set domainname ${JSON.stringify(spec.domainname)}: ${why('uts')}`);
  for (const key of Object.keys(spec.linux?.sysctl ?? {})) {
    // Keys read as the spec loader reads them: "net/ipv4/ip_forward" is net.ipv4.ip_forward.
    const type = sysctlNamespace(sysctlName(key));
    if (!type) throw new Error(`refusing to set sysctl ${key}: it is not in a separate kernel namespace, so it would change the host`);
    if (shared(type)) throw new Error(`refusing to set sysctl ${key}: ${why(type)}`);
  }
}

/**
 * The exec FIFO, held as an O_PATH fd: it opens nothing (no reader is needed yet), and unlike an fd on the
 * state directory it leads nowhere else on the host. Opened before the switch of root, reopened for
 * writing through /proc/self/fd at `start`, as runc's init does.
 */
function openExecFifo(stateDir: string): number {
  const file = path.join(stateDir, 'exec.fifo');
  const fd = open(file, O_PATH | O_CLOEXEC);
  if (!fs.fstatSync(fd).isFIFO()) {
    close(fd);
    throw new Error(`${file} is not a FIFO`);
  }
  return fd;
}

/** After the switch of root: the init will need the container's /proc to reopen the exec FIFO at `start`. */
function checkFifoReachable(execFifo: number): void {
  const problem = `the container's /proc must be a proc filesystem showing the container's processes (runc refuses too)`;
  let proc: number;
  try {
    proc = open('/proc', O_PATH | O_CLOEXEC);
  } catch {
    throw new Error(`${problem}: it has no /proc`);
  }
  try {
    if (fstatfsType(proc, '/proc') !== PROC_SUPER_MAGIC) throw new Error(`${problem}: /proc is another filesystem (a tmpfs mounted over it?)`);
  } finally {
    close(proc);
  }
  let reopened: number;
  try {
    reopened = open(`/proc/self/fd/${execFifo}`, O_PATH | O_CLOEXEC);
  } catch (err) {
    throw new Error(`${problem}: /proc/self/fd/${execFifo} cannot be opened (${(err as Error).message})`);
  }
  close(reopened);
}

/**
 * Blocks until `start` opens the exec FIFO for reading, then writes its byte. The wait is on the event loop
 * (inotify reports the reader's open) rather than a blocking open(): no thread is needed, which a pids
 * limit might refuse, and signal handlers keep running meanwhile.
 */
async function waitForStart(execFifo: number, openWatch: number): Promise<void> {
  const reopen = `/proc/self/fd/${execFifo}`;
  for (;;) {
    let fifo: number;
    try {
      fifo = open(reopen, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    } catch (err) {
      if (!(err instanceof SyscallError && err.code === 'ENXIO')) throw err; // no reader yet
      await nextInotifyEvents(openWatch);
      continue;
    }
    fs.writeSync(fifo, '0');
    close(fifo);
    closeInotify(openWatch);
    close(execFifo);
    return;
  }
}

/**
 * Opens, for the cgroups joined at start, the file that moves us, while their host paths are reachable and we
 * are root: the kernel checks the opener's credentials, so the write still works after the switch of root
 * and of user. A file, not a directory: nothing to climb out through, and close-on-exec. On v1 it is `tasks`,
 * which moves the calling thread alone: Node's other threads end outside (execve keeps only this one), so
 * the teardown of the stage is not spent under the container's quota. v2 has only cgroup.procs.
 */
function openStartCgroups(dirs: string[]): Array<{ fd: number; file: string }> {
  return dirs.map((dir) => {
    const tasks = path.join(dir, 'tasks');
    const file = fs.existsSync(tasks) ? tasks : path.join(dir, 'cgroup.procs');
    return { fd: open(file, O_WRONLY | O_CLOEXEC), file };
  });
}

/** The last act before execve: into the cgroups whose limits would have slowed the stage ("0" is the writer). */
function joinStartCgroups(joins: Array<{ fd: number; file: string }>): void {
  for (const { fd, file } of joins) {
    write(fd, '0', file);
    close(fd);
  }
}

/** What the init holds between `create` and `start`. */
/** The hooks' module: it loads child_process, ~5 ms of CPU at every start, so only a container with hooks here has it. */
type StageHooks = typeof import('../hooks/oci-hooks.js');

interface WaitingInit {
  hooks: StageHooks | undefined;
  proc: NonNullable<StagePlan['spec']['process']>;
  execFifo: number;
  openWatch: ReturnType<typeof inotifyWatch>;
  startCgroups: Array<{ fd: number; file: string }>;
  terminalSlave: number;
  executable: string;
  env: string[];
  seccomp: ReturnType<typeof prepareSeccomp>;
  identityAfterStart: boolean;
  lastCap: number;
  insideState: State;
}

async function main(): Promise<void> {
  // As runc's init: nothing that joins the container's namespaces may reach this process's fds, memory,
  // executable (the host's node) or environment through /proc/1 without CAP_SYS_PTRACE. execve() undoes it.
  setDumpable(false);
  // Loaded: the fds a user namespace's root was let in by lead to the host, and go first.
  closePassage();
  const preserveFds = Number(process.env.TSLAB_PRESERVE_FDS ?? 0);
  const channelFd = 3 + preserveFds;
  const channel = new StageChannel(channelFd);
  try {
    const plan = channel.readPlan();
    const { createContainer, startContainer } = plan.spec.hooks ?? {};
    const hooks = createContainer?.length || startContainer?.length ? await import('../hooks/oci-hooks.js') : undefined;
    const init = createInside(plan, channel, hooks, { preserveFds, channelFd });
    await startInside(plan, init);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    try {
      channel.send({ type: 'error', message });
    } catch {
      // The orchestrator is gone (after create returned): stderr is all that is left.
      process.stderr.write(`tslab-runtime: container init: ${message}\n`);
    }
    process.exit(1);
  }
}


/** Everything `create` does from the inside: namespaces, the root, hooks, the process's identity; then `ready`. */
function createInside(plan: StagePlan, channel: StageChannel, hooks: StageHooks | undefined, fds: { preserveFds: number; channelFd: number }): WaitingInit {
  const { preserveFds, channelFd } = fds;
  const spec = plan.spec;
  const proc = spec.process!;
  const terminalSocket = plan.terminal ? 4 + preserveFds : -1;
  // Built while the host's files are visible and before ready, so a filter libseccomp refuses fails `create`.
  const seccomp = prepareSeccomp(spec.linux?.seccomp);
  const needed = new Set([...Array.from({ length: preserveFds }, (_, i) => 3 + i), channelFd, terminalSocket]);
  closeInheritedFds(needed);
  // Read while /proc is still the host's: the container's may be masked or not be procfs at all.
  const lastCap = lastCapability();
  const runtimeNs = runtimeNamespaces();
  const { create, joinedMount } = joinNamespaces(plan);
  // runc without one builds the root in the caller's mount namespace (the host's: /proc, /dev, /sys mounted
  // under the rootfs there, left behind after delete, measured with runc 1.1.5) and chroots; tslab refuses.
  if (!joinedMount && !(create & CLONE_NEWNS)) {
    throw new Error('a mount namespace is required: add {"type": "mount"} to linux.namespaces (without one the container\'s mounts would be made in the host\'s mount namespace)');
  }
  // Join the cgroups before the cgroup namespace exists, so that namespace is rooted at them.
  if (plan.joinCgroups) channel.request({ type: 'join-cgroups' });
  if (create) unshare(create);
  refuseHostChanges(spec, runtimeNs);
  // A new network namespace has only a loopback interface, down: bring it up, as runc's "loopback" network does.
  if (create & CLONE_NEWNET) bringUpInterface('lo');
  if (proc.oomScoreAdj !== undefined) setOomScoreAdj(proc.oomScoreAdj);
  const execFifo = openExecFifo(plan.stateDir);
  const startCgroups = openStartCgroups(plan.startCgroups);
  // Watched now, through the fd: after the switch of root the host's path to the FIFO is gone.
  const openWatch = inotifyWatch(`/proc/self/fd/${execFifo}`, IN_OPEN);
  // Also in a mount namespace joined by path: runc builds the root there too.
  prepareRootfs(plan);
  const state = plan.runtimeHooks ? channel.request({ type: 'run-hooks' }).state! : plan.state;
  // Hooks inside the container see it as the container does: its init is pid 1 (in a new PID namespace).
  const insideState = { ...state, pid: process.pid };
  hooks?.runHooks('createContainer', spec.hooks?.createContainer, insideState);
  // The last moment the package's files are in reach: its code-cache loader (bin/cached-require.cjs) may write
  // the stage's cache now. Not from a mount namespace joined by path, whose files are not the host's.
  if (!joinedMount) (process as EventEmitter).emit('tslab:code-cache');
  enterRootfs(plan);
  checkFifoReachable(execFifo);
  // The same order as runc's init: hostname after the switch of root, then sysctls and protected paths.
  if (spec.hostname) setHostname(spec.hostname);
  if (spec.domainname) setdomainname(spec.domainname);
  // Nothing of the host may be open when the cwd is entered (the CVE-2024-21626 class).
  assertNoHostFds(new Set([...needed, execFifo, ...startCgroups.map((j) => j.fd)]));
  // Before the root may turn read-only: a working directory the image lacks is created, as runc does.
  enterCwd(proc);
  finishRootfs(plan);
  const terminalSlave = plan.terminal ? allocateTerminal(proc, terminalSocket) : -1;
  if (plan.terminal) channel.request({ type: 'pty' });
  const executable = findExecutable(proc);
  const env = environmentWithHome(proc);
  // The init waits for `start` already as the container's user, with its capabilities and limits.
  applyRlimits(proc);
  // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: as runc, it is loaded before the drop. Both
  // wait for `start`, since Node's event loop must not run filtered: libuv (Node 24) aborts when a profile
  // that leaves out io_uring_enter (podman's, docker's) meets the io_uring it set up at start-up.
  const identityAfterStart = seccomp !== undefined && !proc.noNewPrivileges;
  if (!identityAfterStart) applyIdentity(proc, lastCap);
  channel.ready();
  channel.close();
  return { hooks, proc, execFifo, openWatch, startCgroups, terminalSlave, executable, env, seccomp, identityAfterStart, lastCap, insideState };
}

/** Waits for `start`, then the last steps before execve: filter, identity, startContainer hooks, terminal, cgroups. */
async function startInside(plan: StagePlan, init: WaitingInit): Promise<void> {
  const { hooks, proc, execFifo, openWatch, startCgroups, terminalSlave, executable, env, seccomp, identityAfterStart, lastCap, insideState } = init;
  const spec = plan.spec;
  // Until `start`, behave like a process with default dispositions: as PID 1 we would ignore them.
  for (const signal of TERMINATING_SIGNALS) process.on(signal, () => process.exit(128 + SIGNAL_NUMBERS[signal]));
  await waitForStart(execFifo, openWatch);
  for (const signal of TERMINATING_SIGNALS) process.removeAllListeners(signal);
  if (identityAfterStart) {
    seccomp?.load();
    applyIdentity(proc, lastCap);
  }

  hooks?.runHooks('startContainer', spec.hooks?.startContainer, { ...insideState, status: 'created' });
  if (terminalSlave >= 0) becomeTerminalSession(terminalSlave);
  prepareInheritance(proc, plan.preserveFds);
  joinStartCgroups(startCgroups);
  // With no_new_privs: as late as possible, so the runtime's own calls are not filtered.
  if (proc.noNewPrivileges) seccomp?.load();
  execve(executable, proc.args, env);
}

void main();
