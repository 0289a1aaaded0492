// The exec stage: started by the orchestrator inside the container's PID namespace (and its user namespace,
// joined by nsenter before Node starts: see exec/launch.ts), it joins the rest of the container
// (namespaces, root), is moved into its cgroups, takes on the process's identity and execve()s the
// program, as runc's setns init does. Keep its imports few: every exec pays for them.
//   node stage.cjs   (fd 3+N: the channel; fd 4+N: the terminal socket, with a terminal; N = preserved fds;
//   the namespace fds nsenter was given may follow, closed with everything else not needed)
import * as fs from 'node:fs';
import { O_CLOEXEC, O_DIRECTORY, close, fchdir, open, openat } from '../../linux/fs.js';
import { lastCapability } from '../../linux/capabilities.js';
import { SyscallError } from '../../linux/error.js';
import { chroot } from '../../linux/mount.js';
import { execve } from '../../linux/process.js';
import { O_PATH, setDumpable } from '../../linux/resolve.js';
import { readProcStatAt } from '../../linux/proc-at.js';
import { prepareSeccomp } from '../process/libseccomp-filter.js';
import { allocateTerminal, becomeTerminalSession } from '../process/terminal.js';
import type { Process } from '../spec/types.js';
import { applyIdentity, applyRlimits, assertNoHostFds, closeInheritedFds, environmentWithHome, findExecutable, prepareInheritance } from '../process/setup.js';
import { openInRoot } from '../../fs/in-root.js';
import { joinNamespaces } from '../steps/join-container.js';
import { ExecStageChannel } from './channel.js';
import type { ExecPlan } from './protocol.js';
import { closePassage } from '../../fs/reachable.js';

interface Opened {
  /** The init's /proc directory: it stays the init's (or fails, once the init is gone) whatever /proc means later. */
  procDir: number;
  root: number;
}

function sameNamespace(pid: number, name: string): boolean {
  return fs.readlinkSync(`/proc/${pid}/ns/${name}`) === fs.readlinkSync(`/proc/thread-self/ns/${name}`);
}

function gone(pid: number): Error {
  return new Error(`the container's init (pid ${pid}) has exited: cannot exec in a stopped container`);
}

/**
 * Opens the init's /proc directory and root from the host's /proc, still ours, and checks that the pid still
 * names the container's init.
 */
function openContainer(plan: ExecPlan): Opened {
  const { pid } = plan;
  const opened: Opened = { procDir: -1, root: -1 };
  try {
    opened.procDir = open(`/proc/${pid}`, O_PATH | O_DIRECTORY | O_CLOEXEC);
    // The orchestrator spawned us into the init's user and PID namespaces; a pid reused meanwhile shows here.
    if (!sameNamespace(pid, 'user')) throw gone(pid);
    if (!sameNamespace(pid, 'pid')) {
      if (readProcStatAt(opened.procDir)?.startTime !== plan.startTime) throw gone(pid);
      throw new Error(
        `the exec stage was not born in the container's PID namespace (it is in ${fs.readlinkSync('/proc/thread-self/ns/pid')}, the init in ` +
          `${fs.readlinkSync(`/proc/${pid}/ns/pid`)}): spawnInPidNamespace() must setns(CLONE_NEWPID) before it calls spawnChild()`,
      );
    }
    opened.root = openat(opened.procDir, 'root', O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (readProcStatAt(opened.procDir)?.startTime !== plan.startTime) throw gone(pid);
    return opened;
  } catch (err) {
    if (opened.procDir >= 0) close(opened.procDir);
    if (opened.root >= 0) close(opened.root);
    if (err instanceof SyscallError && err.code === 'ENOENT') throw gone(pid);
    throw err;
  }
}

/**
 * The init's namespaces (lesson 14's joinNamespaces opens them by path), then exactly its root (it may be a
 * chroot inside its mount namespace). The init still alive afterwards, by the directory opened before, means
 * the paths named it all along.
 */
function enterContainer(plan: ExecPlan, opened: Opened): void {
  joinNamespaces(plan.pid);
  const alive = readProcStatAt(opened.procDir)?.startTime === plan.startTime;
  close(opened.procDir);
  if (!alive) throw gone(plan.pid);
  fchdir(opened.root);
  chroot('.');
  close(opened.root);
}

/**
 * The process's working directory, resolved by the kernel inside the container's root and never through
 * a /proc magic link (a cwd of /proc/self/fd/N would be whatever file the stage holds as fd N). Unlike
 * create, exec makes no missing directory: runc's exec fails on it too.
 */
function enterWorkingDirectory(proc: Process): void {
  const root = open('/', O_PATH | O_DIRECTORY | O_CLOEXEC);
  let dir: number;
  try {
    dir = openInRoot(root, proc.cwd, O_PATH | O_DIRECTORY);
  } catch (err) {
    const code = err instanceof SyscallError ? err.code : undefined;
    const why =
      code === 'ENOENT'
        ? 'no such file or directory'
        : code === 'ENOTDIR'
          ? 'not a directory'
          : code === 'ELOOP'
            ? 'it goes through a /proc magic link such as /proc/self/fd/N, which could lead out of the container, or a symbolic link loop'
            : (err as Error).message;
    throw new Error(`chdir to cwd (${JSON.stringify(proc.cwd)}) set in the process failed: ${why}`);
  } finally {
    close(root);
  }
  try {
    fchdir(dir);
  } finally {
    close(dir);
  }
}

function main(): void {
  // As runc's init: nothing in the container may reach this process's fds, memory or executable (the
  // host's node) through /proc/<pid> without CAP_SYS_PTRACE. execve() undoes it.
  setDumpable(false);
  // Loaded: the fds a user namespace's root was let in by lead to the host, and go first.
  closePassage();
  // Read from the host's /proc while it is still ours: the orchestrator knows a detached stage by it only.
  const hostPid = Number(fs.readlinkSync('/proc/self'));
  const preserveFds = Number(process.env.TSLAB_PRESERVE_FDS ?? 0);
  const channelFd = 3 + preserveFds;
  const channel = new ExecStageChannel(channelFd);
  try {
    const plan = channel.readPlan();
    const proc = plan.process;
    const terminalSocket = plan.terminal ? 4 + preserveFds : -1;
    const needed = new Set([...Array.from({ length: preserveFds }, (_, i) => 3 + i), channelFd, terminalSocket]);
    closeInheritedFds(needed);
    // Read while /proc is still the host's: the container's may be masked or not be procfs at all.
    const lastCap = lastCapability();
    // Built while the host's libseccomp is in sight; loaded at the last moment, in runc's order.
    const seccomp = prepareSeccomp(plan.seccomp);
    const opened = openContainer(plan);
    // Joined after booting: the ~40 MB Node charged before stays out of the container's memory cgroup.
    channel.request({ type: 'join-cgroups', pid: hostPid });
    enterContainer(plan, opened);
    // Nothing of the host may be open when the cwd is entered (the CVE-2024-21626 class).
    assertNoHostFds(needed);
    enterWorkingDirectory(proc);
    const terminalSlave = plan.terminal ? allocateTerminal(proc, terminalSocket) : -1;
    if (plan.terminal) channel.request({ type: 'pty' });
    const executable = findExecutable(proc);
    const env = environmentWithHome(proc);
    applyRlimits(proc);
    // Without no_new_privs, loading the filter needs CAP_SYS_ADMIN: before the capabilities go.
    if (!proc.noNewPrivileges) seccomp?.load();
    applyIdentity(proc, lastCap);
    if (terminalSlave >= 0) becomeTerminalSession(terminalSlave);
    channel.send({ type: 'ready' });
    prepareInheritance(proc, preserveFds);
    if (proc.noNewPrivileges) seccomp?.load();
    execve(executable, proc.args, env);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    try {
      channel.send({ type: 'error', message });
    } catch {
      process.stderr.write(`tslab-runtime: exec: ${message}\n`);
    }
    process.exit(1);
  }
}

main();
