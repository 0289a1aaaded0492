// `create`: everything up to a container whose init waits on the exec FIFO for `start`.
// The orchestrator handles what must happen outside the container (PID namespace, cgroups, hooks that
// run in the runtime's namespaces, state); the PID-1 stage builds the rest from the inside.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { O_CLOEXEC, O_RDONLY, S_IFIFO, close, makedev, mknod, open } from '../linux/fs.js';
import { CLONE_NEWPID, setns, unshare } from '../linux/namespaces.js';
import { connectUnix, recvFd, sendFd, socketpair } from '../linux/socket.js';
import { newCgroupManager, type CgroupManager } from './cgroups/index.js';
import { RuntimeError } from './errors.js';
import { runHooks } from './hooks.js';
import { validateContainerId } from './ids.js';
import { OrchestratorChannel } from './orchestrator-channel.js';
import { readProcStat, waitForExit } from './proc.js';
import type { StagePlan } from './protocol.js';
import { loadSpec, resolveRootfs } from './spec/load.js';
import type { Spec, State } from './spec/types.js';
import { type ContainerRecord, type StateStore, writeFileAtomic } from './state.js';

const STAGE_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'init', 'stage.js');
const CGROUP_ROOT = '/sys/fs/cgroup';

export interface CreateOptions {
  id: string;
  bundle: string;
  pidFile?: string;
  noPivot?: boolean;
  preserveFds?: number;
  /** Where to send the pty master of a terminal container (runc's --console-socket). */
  consoleSocket?: string;
  /** The caller relays the terminal itself (a foreground `run`): keep the pty master. */
  keepTerminal?: boolean;
}

export interface CreatedContainer {
  record: ContainerRecord;
  child: ChildProcess;
  /** The pty master, when the container has a terminal and the caller keeps it. */
  terminalMaster?: number;
}

/** The fds that carry a terminal's pty master from the stage, through us, to whoever shows it. */
interface TerminalRoute {
  ours: number;
  stages: number;
  consoleSocket?: number;
  master?: number;
}

function openTerminalRoute(spec: Spec, opts: CreateOptions): TerminalRoute | undefined {
  const terminal = spec.process?.terminal ?? false;
  if (!terminal) {
    if (opts.consoleSocket) throw new RuntimeError('cannot use a console socket when process.terminal is false');
    return undefined;
  }
  if (!opts.consoleSocket && !opts.keepTerminal) {
    throw new RuntimeError('process.terminal is true: pass --console-socket to receive the terminal, or use `run` without --detach');
  }
  const consoleSocket = opts.consoleSocket ? connectUnix(opts.consoleSocket) : undefined;
  const [ours, stages] = socketpair();
  return { ours, stages, consoleSocket };
}

function closeTerminalRoute(route: TerminalRoute | undefined, keepMaster: boolean): void {
  if (!route) return;
  for (const fd of [route.ours, route.stages, route.consoleSocket, keepMaster ? undefined : route.master]) {
    if (fd !== undefined && fd >= 0) close(fd);
  }
}

export function ociState(record: ContainerRecord, status: State['status']): State {
  return {
    ociVersion: record.ociVersion,
    id: record.id,
    status,
    pid: record.pid,
    bundle: record.bundle,
    annotations: record.annotations,
  };
}

/** Starts the stage in the container's PID namespace: a process inherits that of the thread that spawns it. */
function spawnStage(spec: Spec, preserveFds: number, terminalFd: number | undefined): ChildProcess {
  const pidNs = spec.linux?.namespaces?.find((ns) => ns.type === 'pid');
  const ownPidNs = pidNs ? open('/proc/thread-self/ns/pid', O_RDONLY | O_CLOEXEC) : -1;
  try {
    if (pidNs?.path) {
      const fd = open(pidNs.path, O_RDONLY | O_CLOEXEC);
      setns(fd, CLONE_NEWPID, pidNs.path);
      fs.closeSync(fd);
    } else if (pidNs) {
      unshare(CLONE_NEWPID);
    }
    const passed = Array.from({ length: preserveFds }, (_, i) => 3 + i);
    return spawn(process.execPath, [STAGE_SCRIPT], {
      stdio: [0, 1, 2, ...passed, 'pipe', ...(terminalFd === undefined ? [] : [terminalFd])],
      detached: true,
      env: { TSLAB_PRESERVE_FDS: String(preserveFds) },
    });
  } finally {
    if (ownPidNs >= 0) {
      setns(ownPidNs, CLONE_NEWPID);
      fs.closeSync(ownPidNs);
    }
  }
}

function cgroupDirs(manager: CgroupManager): StagePlan['cgroupDirs'] {
  return Object.values(manager.paths).map((hostPath) => ({
    name: path.relative(CGROUP_ROOT, hostPath).split('/')[0],
    hostPath,
  }));
}

/** Conducts the stage through its requests until it is ready (or fails). */
async function converse(
  channel: OrchestratorChannel,
  child: ChildProcess,
  manager: CgroupManager,
  spec: Spec,
  stateOf: () => State,
  terminal: TerminalRoute | undefined,
): Promise<void> {
  for (;;) {
    const message = await channel.next();
    if (!message) {
      const exited = await new Promise<string>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) resolve(String(child.exitCode ?? child.signalCode));
        else child.once('exit', (code, signal) => resolve(String(code ?? signal)));
      });
      throw new RuntimeError(`container init exited before it was ready (status ${exited})`);
    }
    switch (message.type) {
      case 'join-cgroups':
        manager.addProcess(child.pid!);
        channel.reply({ type: 'ok' });
        break;
      case 'run-hooks':
        try {
          runHooks('prestart', spec.hooks?.prestart, stateOf());
          runHooks('createRuntime', spec.hooks?.createRuntime, stateOf());
        } catch (err) {
          channel.reply({ type: 'abort', message: (err as Error).message });
          throw err;
        }
        channel.reply({ type: 'ok', state: stateOf() });
        break;
      case 'pty': {
        if (!terminal) throw new RuntimeError('container init sent a terminal nobody asked for');
        terminal.master = recvFd(terminal.ours).fd;
        if (terminal.consoleSocket !== undefined) {
          sendFd(terminal.consoleSocket, terminal.master, '/dev/ptmx');
          close(terminal.master);
          terminal.master = undefined;
        }
        channel.reply({ type: 'ok' });
        break;
      }
      case 'error':
        throw new RuntimeError(message.message);
      case 'ready':
        return;
    }
  }
}

export async function createContainer(store: StateStore, opts: CreateOptions): Promise<CreatedContainer> {
  validateContainerId(opts.id);
  const bundle = path.resolve(opts.bundle);
  const spec = loadSpec(bundle);
  const rootfs = resolveRootfs(bundle, spec);
  const terminal = openTerminalRoute(spec, opts);
  try {
    store.claim(opts.id);
  } catch (err) {
    closeTerminalRoute(terminal, false);
    throw err;
  }
  const release = store.lock(opts.id);
  let manager: CgroupManager | undefined;
  let child: ChildProcess | undefined;
  try {
    mknod(store.fifoPath(opts.id), S_IFIFO | 0o622, makedev(0, 0));
    manager = newCgroupManager({ id: opts.id, cgroupsPath: spec.linux?.cgroupsPath });
    manager.create();
    manager.apply(spec.linux?.resources);
    const preserveFds = opts.preserveFds ?? 0;
    child = spawnStage(spec, preserveFds, terminal?.stages);
    const spawned = child;
    if (terminal) {
      close(terminal.stages);
      terminal.stages = -1;
    }
    const channel = new OrchestratorChannel(spawned, 3 + preserveFds);
    const record: ContainerRecord = {
      ociVersion: spec.ociVersion,
      id: opts.id,
      pid: spawned.pid!,
      pidStartTime: 0,
      bundle,
      rootfs,
      created: new Date().toISOString(),
      owner: '',
      annotations: spec.annotations ?? {},
      cgroups: manager.toJSON(),
      hooks: spec.hooks,
    };
    const plan: StagePlan = {
      id: opts.id,
      bundle,
      rootfs,
      stateDir: store.dir(opts.id),
      spec,
      noPivot: opts.noPivot ?? false,
      preserveFds,
      cgroupDirs: cgroupDirs(manager),
      cgroupV2: manager.mode === 'v2',
      terminal: terminal !== undefined,
    };
    channel.sendPlan(plan);
    await converse(channel, spawned, manager, spec, () => ociState(record, 'creating'), terminal);
    channel.close();
    record.pidStartTime = readProcStat(spawned.pid!)?.startTime ?? 0;
    store.write(record);
    if (opts.pidFile) writeFileAtomic(path.resolve(opts.pidFile), String(spawned.pid));
    closeTerminalRoute(terminal, true);
    return { record, child: spawned, terminalMaster: terminal?.master };
  } catch (err) {
    closeTerminalRoute(terminal, false);
    if (child?.pid) {
      const startTime = readProcStat(child.pid)?.startTime;
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
      if (startTime !== undefined) waitForExit(child.pid, startTime, 5000);
    }
    manager?.destroy();
    store.remove(opts.id);
    throw err;
  } finally {
    release();
  }
}
