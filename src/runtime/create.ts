// `create`: everything up to a container whose init waits on the exec FIFO for `start`.
// The orchestrator handles what must happen outside the container (PID namespace, cgroups, hooks that
// run in the runtime's namespaces, state); the PID-1 stage builds the rest from the inside.
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { S_IFIFO, close, makedev, mknod } from '../linux/fs.js';
import { recvFd, sendFd } from '../linux/socket.js';
import { newCgroupManager, type CgroupManager } from './cgroups/index.js';
import { RuntimeError } from './errors.js';
import { runHooks } from './hooks.js';
import { validateContainerId } from './ids.js';
import { type LaunchOptions, type LaunchedStage, type TerminalRoute, closeTerminalRoute, discardStage, launchStage, matchesSpec } from './launch.js';
import { OrchestratorChannel } from './orchestrator-channel.js';
import { readProcStat } from './proc.js';
import type { StagePlan } from './protocol.js';
import { loadSpec, resolveRootfs } from './spec/load.js';
import type { Resources, Spec, State } from './spec/types.js';
import { type ContainerRecord, type StateStore, writeFileAtomic } from './state.js';

const CGROUP_ROOT = '/sys/fs/cgroup';

export interface CreateOptions extends LaunchOptions {
  id: string;
  bundle: string;
  pidFile?: string;
  noPivot?: boolean;
  /** A stage already launched by launchStageEarly(); used if it fits the validated spec. */
  launched?: LaunchedStage;
  /** Told about what is accepted but probably not meant (unknown config.json fields). */
  warn?: (message: string) => void;
}

export interface CreatedContainer {
  record: ContainerRecord;
  child: ChildProcess;
  /** The pty master, when the container has a terminal and the caller keeps it. */
  terminalMaster?: number;
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

/**
 * Controllers whose limits would bite the stage's own Node start-up: memory charges stay with the cgroup
 * current at allocation, a pids limit would refuse Node's threads, a CPU quota would slow it down. The
 * stage joins these only when it is ready for them; every other hierarchy it joins while it boots, which
 * takes the first cgroup migration's wait for an RCU grace period (5-10 ms here) off the critical path.
 */
function controllersLimitingStartup(resources: Resources | undefined): Set<string> {
  const limited = new Set<string>();
  const memory = resources?.memory;
  if (memory && (memory.limit !== undefined || memory.reservation !== undefined || memory.swap !== undefined)) limited.add('memory');
  if (resources?.pids && resources.pids.limit > 0) limited.add('pids');
  const cpu = resources?.cpu;
  if (cpu && (cpu.quota !== undefined || cpu.shares !== undefined || cpu.realtimeRuntime !== undefined)) limited.add('cpu');
  if (cpu && (cpu.cpus || cpu.mems)) limited.add('cpuset');
  return limited;
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
  limitingStartup: Set<string>,
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
        manager.addProcess(child.pid!, (controllers) => controllers.some((c) => limitingStartup.has(c)));
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

/** Validates, then claims the id; a launched stage that does not fit (or any failure) is discarded. */
async function prepare(store: StateStore, opts: CreateOptions): Promise<{ spec: Spec; bundle: string; rootfs: string; stage: LaunchedStage }> {
  let stage = opts.launched;
  try {
    validateContainerId(opts.id);
    const bundle = path.resolve(opts.bundle);
    const spec = loadSpec(bundle, (field) => opts.warn?.(`config.json: unknown field "${field}" ignored (a misspelling?)`));
    const rootfs = resolveRootfs(bundle, spec);
    if (stage && !matchesSpec(stage, spec)) {
      await discardStage(stage);
      stage = undefined;
    }
    stage ??= launchStage(spec, opts);
    store.claim(opts.id);
    return { spec, bundle, rootfs, stage };
  } catch (err) {
    await discardStage(stage);
    throw err;
  }
}

export async function createContainer(store: StateStore, opts: CreateOptions): Promise<CreatedContainer> {
  const { spec, bundle, rootfs, stage } = await prepare(store, opts);
  const { child, terminal } = stage;
  const release = store.lock(opts.id);
  let manager: CgroupManager | undefined;
  try {
    // Writable by anyone: the init opens it after taking on the container's (maybe unprivileged) user.
    mknod(store.fifoPath(opts.id), S_IFIFO | 0o622, makedev(0, 0));
    fs.chmodSync(store.fifoPath(opts.id), 0o622);
    manager = newCgroupManager({ id: opts.id, cgroupsPath: spec.linux?.cgroupsPath });
    manager.create();
    manager.apply(spec.linux?.resources);
    const limitingStartup = controllersLimitingStartup(spec.linux?.resources);
    try {
      manager.addProcess(child.pid!, (controllers) => !controllers.some((c) => limitingStartup.has(c)));
    } catch (err) {
      // A stage that died already is reported by the conversation below; anything else is ours to report.
      if (child.exitCode === null && child.signalCode === null && readProcStat(child.pid!) !== undefined) throw err;
    }
    const channel = new OrchestratorChannel(child, stage.channelFd);
    const record: ContainerRecord = {
      ociVersion: spec.ociVersion,
      id: opts.id,
      pid: child.pid!,
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
      preserveFds: opts.preserveFds ?? 0,
      cgroupDirs: cgroupDirs(manager),
      cgroupV2: manager.mode === 'v2',
      terminal: terminal !== undefined,
    };
    channel.sendPlan(plan);
    await converse(channel, child, manager, spec, () => ociState(record, 'creating'), terminal, limitingStartup);
    channel.close();
    record.pidStartTime = readProcStat(child.pid!)?.startTime ?? 0;
    store.write(record);
    if (opts.pidFile) writeFileAtomic(path.resolve(opts.pidFile), String(child.pid));
    closeTerminalRoute(terminal, true);
    return { record, child, terminalMaster: terminal?.master };
  } catch (err) {
    await discardStage(stage);
    manager?.destroy();
    store.remove(opts.id);
    throw err;
  } finally {
    release();
  }
}
