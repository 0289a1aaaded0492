// Starting a process inside a running container: the orchestrator's side of exec. It spawns the exec stage
// (a Node process) into the container's PID namespace, conducts it through its requests (cgroups, terminal)
// and tells when execve() happened. Used by `tslab-runtime exec` and by the lab's enter, which differ only in
// how they name the container and build the process.
//
// A foreground exec keeps the program as its own child and waits for it. A detached one (runc's --detach,
// what conmon and the containerd shim ask for) must not: Node reaps every child it spawned, so a program
// that ends before we do would have its exit status taken from the caller, a child subreaper waiting for
// the pid we report (conmon then says 255, the shim waits for ever). Its stage is therefore born of a
// launcher that exits at once: `nsenter --pid --no-fork` puts the launcher's children in the container's
// PID namespace, `setsid --fork` forks the stage and exits. The stage's parent is then gone, and the kernel
// gives it to the nearest subreaper above us (runc's program is orphaned the same way).
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { O_CLOEXEC, O_RDONLY, close, open } from '../../linux/fs.js';
import { connectUnix, recvFd, sendFd, socketpair } from '../../linux/socket.js';
import { RuntimeError } from '../runtime-error.js';
import { nodeCommandFor, type NodeCommand } from '../../fs/reachable.js';
import { hostIdOfRoot } from '../init/launch-userns.js';
import { isAlive } from '../../linux/proc.js';
import type { Process, Seccomp } from '../spec/types.js';
import { exitStatus } from '../steps/exit-status.js';
import { spawnInPidNamespace } from '../steps/join-container.js';
import { ExecOrchestratorChannel } from './channel.js';
import type { ExecPlan } from './protocol.js';
import { unlessAborted, within } from '../../linux/within.js';

const REAP_TIMEOUT_MS = 5000;
const NSENTER = '/usr/bin/nsenter';
const SETSID = '/usr/bin/setsid';

/** One of the stage's fds as child_process.spawn takes it: an fd of ours, or a pipe (or /dev/null) it makes. */
type StdioSlot = number | 'pipe' | 'ignore';

/** The running container a process is started in. */
export interface ExecTarget {
  /** Its init, by host pid and /proc start time (a recycled pid is never taken for it). */
  pid: number;
  startTime: number;
  /** Moves a process into the container's cgroups. */
  joinCgroups(pid: number): void;
  seccomp?: Seccomp;
}

export interface ExecRequest {
  process: Process;
  /** Extra fds passed from the caller, numbered from 3 (runc's --preserve-fds). */
  preserveFds?: number;
  /** Where to send the pty master of a terminal (runc's --console-socket); else the caller keeps it. */
  consoleSocket?: string;
  /** The process's stdin, stdout and stderr: ours unless said otherwise; 'pipe' gives the caller a stream of it. */
  stdio?: [StdioSlot, StdioSlot, StdioSlot];
  /** Gives up on a start that has not exec'd the program yet: the stage is ended, and the launch fails. */
  signal?: AbortSignal;
  /**
   * Called with the stage as soon as it is spawned. A caller reading 'pipe' stdio listens from then on: when a
   * child exits, Node discards what nobody has read yet, and a quick program can end before the start returns.
   */
  onSpawn?: (child: ChildProcess) => void;
}

export interface ExecutedProcess {
  /** The program, exec'd: its pid is the host's. */
  child: ChildProcess;
  /** The pty master, when the process has a terminal and no console socket took it. */
  terminalMaster?: number;
  /** The exit status, as a shell shows it (128+N for a signal). */
  exited: Promise<number>;
}

/** The built exec stage: next to this bundle (dist/cli/ or dist/runtime/exec/), else in the package's dist/. */
function stageScript(): string {
  const dir = path.dirname(fileURLToPath(import.meta.url));
  for (const candidate of [path.join(dir, '..', 'runtime', 'exec', 'stage.cjs'), path.join(dir, 'stage.cjs')]) {
    if (fs.existsSync(candidate)) return candidate;
  }
  let root = dir;
  while (!fs.existsSync(path.join(root, 'package.json'))) {
    if (path.dirname(root) === root) throw new RuntimeError(`cannot find the tslab package around ${import.meta.url}`);
    root = path.dirname(root);
  }
  return path.join(root, 'dist', 'runtime', 'exec', 'stage.cjs');
}

/** Fds of the init's namespaces that a stage is born into; one that is ours already is not opened. */
interface InitNamespaces {
  pid?: number;
  user?: number;
}

/**
 * Opens those of the init's PID and user namespaces that `names` lists and are not ours already, and checks,
 * second, that the init is still the process we mean: the fds then hold the namespaces of that process.
 */
function withInitNamespaces<T>(target: ExecTarget, names: ReadonlyArray<'pid' | 'user'>, use: (ns: InitNamespaces) => T): T {
  const ns: InitNamespaces = {};
  try {
    try {
      for (const name of names) {
        const nsPath = `/proc/${target.pid}/ns/${name}`;
        if (fs.readlinkSync(nsPath) !== fs.readlinkSync(`/proc/thread-self/ns/${name}`)) ns[name] = open(nsPath, O_RDONLY | O_CLOEXEC);
      }
    } catch {
      throw new RuntimeError('cannot exec in a stopped container');
    }
    if (!isAlive(target.pid, target.startTime)) throw new RuntimeError('cannot exec in a stopped container');
    return use(ns);
  } finally {
    if (ns.pid !== undefined) close(ns.pid);
    if (ns.user !== undefined) close(ns.user);
  }
}

/**
 * `node stage` as the init's user namespace lets it start: its root is a plain uid on the host, which a
 * directory above the package (a 0700 home) may stop; then the path goes through fds of ours (fs/reachable.ts).
 */
function stageCommand(target: ExecTarget, ns: InitNamespaces, firstFd: number): NodeCommand {
  const script = stageScript();
  const plain = { argv: [process.execPath, script], fds: [], env: {} };
  if (ns.user === undefined) return plain;
  let ids: [number, number];
  try {
    ids = [hostIdOfRoot(target.pid, 'uid_map'), hostIdOfRoot(target.pid, 'gid_map')];
  } catch {
    return plain; // no root in the namespace: nsenter says why it cannot become it
  }
  if (ids[0] === 0) return plain;
  try {
    return nodeCommandFor(process.execPath, script, ids[0], ids[1], firstFd);
  } catch (err) {
    throw new RuntimeError((err as Error).message);
  }
}

/**
 * The stage as run in the init's namespaces `ns` by nsenter, which is given them as open fds appended to
 * `stdio`, after `launcher` (argv words before node). The user namespace is why nsenter is needed at all: a
 * multithreaded process cannot join one (setns: EINVAL), so Node cannot join it for itself. nsenter,
 * single-threaded, joins it (last, after the PID namespace, whatever the order here) and becomes uid and
 * gid 0 there, with every capability of that namespace, kept across its exec of the stage: the stage starts
 * as the container's init did. Without --pid, nsenter does not fork: the stage is the process spawned.
 */
function spawnInNamespaces(target: ExecTarget, ns: InitNamespaces, stdio: StdioSlot[], env: NodeJS.ProcessEnv, launcher: string[] = [], extra: string[] = []): ChildProcess {
  const flags: string[] = [];
  const fds: number[] = [];
  for (const name of ['pid', 'user'] as const) {
    const fd = ns[name];
    if (fd === undefined) continue;
    flags.push(`--${name}=/proc/self/fd/${stdio.length + fds.length}`);
    fds.push(fd);
  }
  const stage = stageCommand(target, ns, stdio.length + fds.length);
  try {
    const argv = flags.length ? [NSENTER, ...flags, ...extra, '--', ...launcher, ...stage.argv] : [...launcher, ...stage.argv];
    return spawn(argv[0]!, argv.slice(1), { stdio: [...stdio, ...fds, ...stage.fds], detached: true, env: { ...env, ...stage.env } });
  } finally {
    for (const fd of stage.fds) fs.closeSync(fd);
  }
}

/**
 * Spawns the stage as our child, born in the init's PID namespace (lesson 14's spawnInPidNamespace: this
 * thread joins it for the spawn; nsenter --pid would fork and leave itself as our child).
 */
function spawnStage(target: ExecTarget, stdio: StdioSlot[], env: NodeJS.ProcessEnv): ChildProcess {
  return withInitNamespaces(target, ['user'], ({ user }) => spawnInPidNamespace(target.pid, () => spawnInNamespaces(target, { user }, stdio, env)));
}

/**
 * Spawns the launcher of a stage that is not our child (see the top of this file). The launcher itself
 * stays in our PID namespace: an orphan whose parent was inside the container's would go to the
 * container's init instead, which reaps nothing.
 */
function spawnOrphanStage(target: ExecTarget, stdio: StdioSlot[], env: NodeJS.ProcessEnv): ChildProcess {
  return withInitNamespaces(target, ['pid', 'user'], (ns) => spawnInNamespaces(target, ns, stdio, env, [SETSID, '--fork'], ['--no-fork']));
}

function exitOf(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(exitStatus(child.exitCode, child.signalCode));
    else child.once('exit', (code, signal) => resolve(exitStatus(code, signal)));
  });
}

/** Ends a process we spawned for a stage that failed and waits until it is reaped (no zombie left behind). */
async function discard(child: ChildProcess, exited: Promise<number>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    child.kill('SIGKILL');
  } catch {
    // Already gone; its exit event is on its way.
  }
  await within(exited, REAP_TIMEOUT_MS);
}

interface Launched {
  /** The process we spawned: the stage, or the launcher of an orphaned stage. */
  spawned: ChildProcess;
  spawnedExit: Promise<number>;
  /** The stage's (then the program's) host pid. */
  pid: number;
  terminalMaster?: number;
}

/** Starts the stage (as `orphan` says), conducts it through its requests and resolves once the program is exec'd. */
async function launch(target: ExecTarget, request: ExecRequest, orphan: boolean): Promise<Launched> {
  const preserveFds = request.preserveFds ?? 0;
  const terminal = request.process.terminal === true;
  let consoleSocket: number | undefined;
  let terminalOurs = -1;
  let channel: ExecOrchestratorChannel | undefined;
  let master: number | undefined;
  let spawned: ChildProcess | undefined;
  let spawnedExit: Promise<number> | undefined;
  try {
    const [channelOurs, channelStages] = socketpair();
    channel = new ExecOrchestratorChannel(channelOurs);
    let terminalStages = -1;
    try {
      if (terminal) {
        if (request.consoleSocket) consoleSocket = connectUnix(request.consoleSocket);
        [terminalOurs, terminalStages] = socketpair();
      }
      const passed = Array.from({ length: preserveFds }, (_, i) => 3 + i);
      const stdio = [...(request.stdio ?? [0, 1, 2]), ...passed, channelStages, ...(terminal ? [terminalStages] : [])];
      const env = { TSLAB_PRESERVE_FDS: String(preserveFds) };
      spawned = orphan ? spawnOrphanStage(target, stdio, env) : spawnStage(target, stdio, env);
      request.onSpawn?.(spawned);
    } finally {
      close(channelStages);
      if (terminalStages >= 0) close(terminalStages);
    }
    spawnedExit = exitOf(spawned);
    const plan: ExecPlan = { pid: target.pid, startTime: target.startTime, process: request.process, preserveFds, terminal, seccomp: target.seccomp };
    channel.send(plan);
    let pid: number | undefined;
    let ready = false;
    for (;;) {
      const message = await unlessAborted(channel.next(), request.signal, () => new RuntimeError('the exec was given up before its program started'));
      if (!message) {
        if (ready && pid !== undefined) break; // the channel is close-on-exec: its end means execve() succeeded
        const status = orphan ? undefined : await within(spawnedExit, REAP_TIMEOUT_MS);
        throw new RuntimeError(`the exec stage ended before it ran the program${status === undefined ? '' : ` (status ${status})`}`);
      }
      switch (message.type) {
        case 'join-cgroups':
          if (!Number.isSafeInteger(message.pid) || message.pid <= 0) throw new RuntimeError(`the exec stage sent ${JSON.stringify(message.pid)} as its pid`);
          pid = orphan ? message.pid : spawned.pid!;
          try {
            target.joinCgroups(pid);
          } catch (err) {
            channel.send({ type: 'abort', message: (err as Error).message });
            throw err;
          }
          channel.send({ type: 'ok' });
          break;
        case 'pty':
          if (!terminal) throw new RuntimeError('the exec stage sent a terminal nobody asked for');
          master = recvFd(terminalOurs).fd;
          if (consoleSocket !== undefined) {
            sendFd(consoleSocket, master, '/dev/ptmx');
            close(master);
            master = undefined;
          }
          channel.send({ type: 'ok' });
          break;
        case 'ready':
          ready = true;
          break;
        case 'error':
          throw new RuntimeError(message.message);
      }
    }
    return { spawned, spawnedExit, pid: pid!, terminalMaster: master };
  } catch (err) {
    if (master !== undefined) close(master);
    // An orphaned stage is not ours to kill: it ends by itself when its channel closes (below).
    if (spawned && spawnedExit) await discard(spawned, spawnedExit);
    throw err;
  } finally {
    channel?.close();
    if (consoleSocket !== undefined) close(consoleSocket);
    if (terminalOurs >= 0) close(terminalOurs);
  }
}

/** Starts `request.process` in the target container as our child; resolves once the program is exec'd. */
export async function launchExec(target: ExecTarget, request: ExecRequest): Promise<ExecutedProcess> {
  const { spawned, spawnedExit, terminalMaster } = await launch(target, request, false);
  return { child: spawned, terminalMaster, exited: spawnedExit };
}

/**
 * Starts `request.process` in the target container for our caller to reap (runc's --detach); resolves
 * with its host pid once it is exec'd. A terminal needs a console socket: nobody here would read it.
 */
export async function launchDetachedExec(target: ExecTarget, request: ExecRequest): Promise<{ pid: number }> {
  if (request.process.terminal && !request.consoleSocket) throw new RuntimeError('cannot allocate tty if runc will detach without setting console socket');
  const { pid, spawnedExit } = await launch(target, request, true);
  // The launcher exited as soon as it forked: reaped here, not left to our caller.
  await spawnedExit;
  return { pid };
}
