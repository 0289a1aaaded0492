// Starting a process inside a running container: the orchestrator's side of exec. It spawns the exec stage
// (a Node process) from a thread moved into the container's PID namespace, conducts it through its
// requests (cgroups, terminal) and tells when execve() happened. Used by `tslab-runtime exec` and by the
// lab's enter, which differ only in how they name the container and build the process.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { O_CLOEXEC, O_RDONLY, close, open } from '../../linux/fs.js';
import { CLONE_NEWPID, setns } from '../../linux/namespaces.js';
import { connectUnix, recvFd, sendFd, socketpair } from '../../linux/socket.js';
import { RuntimeError } from '../errors.js';
import { isAlive } from '../../linux/proc.js';
import type { Process, Seccomp } from '../spec/types.js';
import { exitStatus } from '../steps/exit-status.js';
import { ExecOrchestratorChannel } from './channel.js';
import type { ExecPlan } from './protocol.js';

const REAP_TIMEOUT_MS = 5000;

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
  /** The process's stdin, stdout and stderr: ours unless said otherwise. */
  stdio?: [number, number, number];
}

export interface ExecutedProcess {
  /** The program, exec'd: its pid is the host's. */
  child: ChildProcess;
  /** The pty master, when the process has a terminal and no console socket took it. */
  terminalMaster?: number;
  /** The exit status, as a shell shows it (128+N for a signal). */
  exited: Promise<number>;
}

/** The built exec stage: next to this bundle (dist/cli/ or dist/runtime/), else in the package's dist/. */
function stageScript(): string {
  const dir = path.dirname(fileURLToPath(import.meta.url));
  for (const candidate of [path.join(dir, '..', 'runtime', 'exec', 'stage.cjs'), path.join(dir, 'exec', 'stage.cjs')]) {
    if (fs.existsSync(candidate)) return candidate;
  }
  let root = dir;
  while (!fs.existsSync(path.join(root, 'package.json'))) {
    if (path.dirname(root) === root) throw new RuntimeError(`cannot find the tslab package around ${import.meta.url}`);
    root = path.dirname(root);
  }
  return path.join(root, 'dist', 'runtime', 'exec', 'stage.cjs');
}

/** Spawns the stage from this thread moved into the init's PID namespace (children are born there), then moves back. */
function spawnStage(target: ExecTarget, stdio: Array<number | 'pipe'>, preserveFds: number): ChildProcess {
  const start = () => spawn(process.execPath, [stageScript()], { stdio, detached: true, env: { TSLAB_PRESERVE_FDS: String(preserveFds) } });
  const nsPath = `/proc/${target.pid}/ns/pid`;
  let theirs: number;
  try {
    theirs = open(nsPath, O_RDONLY | O_CLOEXEC);
  } catch {
    throw new RuntimeError('cannot exec in a stopped container');
  }
  try {
    // Opened first, checked second: the fd holds the namespace of the process we checked.
    if (!isAlive(target.pid, target.startTime)) throw new RuntimeError('cannot exec in a stopped container');
    if (fs.readlinkSync(nsPath) === fs.readlinkSync('/proc/thread-self/ns/pid')) return start();
    const ours = open('/proc/thread-self/ns/pid', O_RDONLY | O_CLOEXEC);
    try {
      setns(theirs, CLONE_NEWPID, nsPath);
      try {
        return start();
      } finally {
        setns(ours, CLONE_NEWPID, '/proc/thread-self/ns/pid');
      }
    } finally {
      close(ours);
    }
  } finally {
    close(theirs);
  }
}

function exitOf(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(exitStatus(child.exitCode, child.signalCode));
    else child.once('exit', (code, signal) => resolve(exitStatus(code, signal)));
  });
}

/** Ends a stage that failed and waits until it is reaped (no zombie left behind). */
async function discard(child: ChildProcess, exited: Promise<number>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    child.kill('SIGKILL');
  } catch {
    // Already gone; its exit event is on its way.
  }
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([exited, new Promise((resolve) => (timer = setTimeout(resolve, REAP_TIMEOUT_MS)))]);
  clearTimeout(timer);
}

/** Starts `request.process` in the target container; resolves once the program is exec'd. */
export async function launchExec(target: ExecTarget, request: ExecRequest): Promise<ExecutedProcess> {
  const preserveFds = request.preserveFds ?? 0;
  const terminal = request.process.terminal === true;
  let consoleSocket: number | undefined;
  let ours = -1;
  let master: number | undefined;
  let child: ChildProcess | undefined;
  let exited: Promise<number> | undefined;
  try {
    let stagesEnd = -1;
    if (terminal) {
      if (request.consoleSocket) consoleSocket = connectUnix(request.consoleSocket);
      [ours, stagesEnd] = socketpair();
    }
    const passed = Array.from({ length: preserveFds }, (_, i) => 3 + i);
    const stdio: Array<number | 'pipe'> = [...(request.stdio ?? [0, 1, 2]), ...passed, 'pipe', ...(terminal ? [stagesEnd] : [])];
    try {
      child = spawnStage(target, stdio, preserveFds);
    } finally {
      if (stagesEnd >= 0) close(stagesEnd);
    }
    exited = exitOf(child);
    const channel = new ExecOrchestratorChannel(child, 3 + preserveFds);
    const plan: ExecPlan = { pid: target.pid, startTime: target.startTime, process: request.process, preserveFds, terminal, seccomp: target.seccomp };
    channel.send(plan);
    let ready = false;
    for (;;) {
      const message = await channel.next();
      if (!message) {
        if (ready) break; // the channel is close-on-exec: its end means execve() succeeded
        throw new RuntimeError(`the exec stage ended before it ran the program (status ${await exited})`);
      }
      switch (message.type) {
        case 'join-cgroups':
          try {
            target.joinCgroups(child.pid!);
          } catch (err) {
            channel.send({ type: 'abort', message: (err as Error).message });
            throw err;
          }
          channel.send({ type: 'ok' });
          break;
        case 'pty':
          if (!terminal) throw new RuntimeError('the exec stage sent a terminal nobody asked for');
          master = recvFd(ours).fd;
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
    channel.close();
    return { child, terminalMaster: master, exited };
  } catch (err) {
    if (master !== undefined) close(master);
    if (child && exited) await discard(child, exited);
    throw err;
  } finally {
    if (consoleSocket !== undefined) close(consoleSocket);
    if (ours >= 0) close(ours);
  }
}
