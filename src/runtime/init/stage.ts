// The container's PID-1 stage: started by the orchestrator inside the new PID namespace, it builds the
// container around itself, reports ready, waits on the exec FIFO for `start`, then execve()s the program.
// Keep its imports few: every container start pays for them.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { O_CLOEXEC, O_DIRECTORY, O_NONBLOCK, O_RDONLY, O_WRONLY, close, dup2, open, openat } from '../../linux/fs.js';
import { IN_OPEN, inotifyWatch, nextInotifyEvents } from '../../linux/inotify.js';
import { SyscallError } from '../../linux/error.js';
import { CLONE_FS, CLONE_NEWCGROUP, CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWNS, CLONE_NEWUTS, setns, unshare } from '../../linux/namespaces.js';
import { execve, setdomainname } from '../../linux/process.js';
import { makeControllingTerminal, openPtyPair, setWindowSize } from '../../linux/pty.js';
import { sendFd } from '../../linux/socket.js';
import { runHooks } from '../hooks.js';
import type { StagePlan } from '../protocol.js';
import type { NamespaceType } from '../spec/types.js';
import { setHostname } from '../steps/hostname.js';
import { bringUpInterface } from '../steps/loopback.js';
import { StageChannel } from './channel.js';
import { applyIdentity, applyRlimits, enterCwd, environmentWithHome, findExecutable, prepareInheritance, setOomScoreAdj } from './process-setup.js';
import { enterRootfs, finishRootfs, prepareRootfs } from './rootfs.js';

const NAMESPACE_FLAGS: Partial<Record<NamespaceType, number>> = {
  mount: CLONE_NEWNS,
  uts: CLONE_NEWUTS,
  ipc: CLONE_NEWIPC,
  network: CLONE_NEWNET,
  cgroup: CLONE_NEWCGROUP,
};

const TERMINATING_SIGNALS: NodeJS.Signals[] = ['SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGTERM', 'SIGUSR2', 'SIGALRM'];
const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGTERM: 15, SIGUSR2: 12, SIGALRM: 14 };

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
    const fd = open(ns.path, O_RDONLY | O_CLOEXEC);
    // A multithreaded process must stop sharing its fs state before it may change mount namespace.
    if (flag === CLONE_NEWNS) {
      unshare(CLONE_FS);
      joinedMount = true;
    }
    setns(fd, flag, ns.path);
    fs.closeSync(fd);
  }
  return { create, joinedMount };
}

/**
 * Makes the container's terminal from its own devpts (so `tty` inside names it) and sends the master
 * to the orchestrator; returns the slave, which becomes stdio just before exec.
 */
function allocateTerminal(plan: StagePlan, socketFd: number): number {
  const { master, slave } = openPtyPair('/dev/ptmx');
  const size = plan.spec.process?.consoleSize;
  setWindowSize(master, size?.height || 24, size?.width || 80);
  sendFd(socketFd, master, '/dev/ptmx');
  close(master);
  close(socketFd);
  return slave;
}

function becomeTerminalSession(slave: number): void {
  // spawn(detached) already made the stage a session leader, as TIOCSCTTY requires.
  makeControllingTerminal(slave);
  for (const fd of [0, 1, 2]) dup2(slave, fd);
  close(slave);
}

/**
 * Blocks until `start` opens the exec FIFO for reading, then writes its byte. The wait is on the event loop
 * (inotify reports the reader's open) rather than a blocking open(): no thread is needed, which a pids
 * limit might refuse, and signal handlers keep running meanwhile.
 */
async function waitForStart(stateDirFd: number, openWatch: number): Promise<void> {
  for (;;) {
    let fifo: number;
    try {
      fifo = openat(stateDirFd, 'exec.fifo', O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    } catch (err) {
      if (!(err instanceof SyscallError && err.code === 'ENXIO')) throw err; // no reader yet
      await nextInotifyEvents(openWatch);
      continue;
    }
    fs.writeSync(fifo, '0');
    close(fifo);
    close(openWatch);
    return;
  }
}

async function main(): Promise<void> {
  const preserveFds = Number(process.env.TSLAB_PRESERVE_FDS ?? 0);
  const channel = new StageChannel(3 + preserveFds);
  let plan: StagePlan | undefined;
  try {
    plan = channel.readPlan();
    const spec = plan.spec;
    const proc = spec.process!;
    const { create, joinedMount } = joinNamespaces(plan);
    if (!joinedMount && !(create & CLONE_NEWNS)) throw new Error('a mount namespace is required: add {"type": "mount"} to linux.namespaces');
    // Join the cgroups before the cgroup namespace exists, so that namespace is rooted at them.
    channel.request({ type: 'join-cgroups' });
    if (create) unshare(create);
    // A new network namespace has only a loopback interface, down: bring it up, as runc's "loopback" network does.
    if (create & CLONE_NEWNET) bringUpInterface('lo');
    if (proc.oomScoreAdj !== undefined) setOomScoreAdj(proc.oomScoreAdj);
    const stateDirFd = open(plan.stateDir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    // Watched now: after the switch of root the host's path to the FIFO is gone.
    const openWatch = inotifyWatch(path.join(plan.stateDir, 'exec.fifo'), IN_OPEN);
    if (!joinedMount) prepareRootfs(plan);
    const { state } = channel.request({ type: 'run-hooks' });
    // Hooks inside the container see it as the container does: its init is pid 1 (in a new PID namespace).
    const insideState = { ...state!, pid: process.pid };
    runHooks('createContainer', spec.hooks?.createContainer, insideState);
    if (!joinedMount) enterRootfs(plan);
    // The same order as runc's init: hostname after the switch of root, then sysctls and protected paths.
    if (spec.hostname) setHostname(spec.hostname);
    if (spec.domainname) setdomainname(spec.domainname);
    // Before the root may turn read-only: a working directory the image lacks is created, as runc does.
    enterCwd(proc);
    if (!joinedMount) finishRootfs(plan);
    const terminalSlave = plan.terminal ? allocateTerminal(plan, 4 + preserveFds) : -1;
    if (plan.terminal) channel.request({ type: 'pty' });
    const executable = findExecutable(proc);
    const env = environmentWithHome(proc);
    // The init waits for `start` already as the container's user, with its capabilities and limits.
    applyRlimits(proc);
    applyIdentity(proc);
    channel.send({ type: 'ready' });
    channel.close();

    // Until `start`, behave like a process with default dispositions: as PID 1 we would ignore them.
    for (const signal of TERMINATING_SIGNALS) process.on(signal, () => process.exit(128 + SIGNAL_NUMBERS[signal]));
    await waitForStart(stateDirFd, openWatch);
    close(stateDirFd);
    for (const signal of TERMINATING_SIGNALS) process.removeAllListeners(signal);

    runHooks('startContainer', spec.hooks?.startContainer, { ...insideState, status: 'created' });
    if (terminalSlave >= 0) becomeTerminalSession(terminalSlave);
    prepareInheritance(proc, plan.preserveFds);
    execve(executable, proc.args, env);
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

void main();
