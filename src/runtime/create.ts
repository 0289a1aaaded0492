// `create`: everything up to a container whose init waits on the exec FIFO for `start`.
// The orchestrator handles what must happen outside the container (PID namespace, cgroups, hooks that
// run in the runtime's namespaces, state); the PID-1 stage builds the rest from the inside.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { O_CLOEXEC, O_RDONLY, S_IFIFO, makedev, mknod, open } from '../linux/fs.js';
import { CLONE_NEWPID, setns, unshare } from '../linux/namespaces.js';
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
}

export interface CreatedContainer {
  record: ContainerRecord;
  child: ChildProcess;
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
function spawnStage(spec: Spec, preserveFds: number): ChildProcess {
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
      stdio: [0, 1, 2, ...passed, 'pipe'],
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
async function converse(channel: OrchestratorChannel, child: ChildProcess, manager: CgroupManager, spec: Spec, stateOf: () => State): Promise<void> {
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
  if (spec.process?.terminal) {
    throw new RuntimeError('process.terminal is true but tslab-runtime cannot allocate a terminal yet: set "terminal": false');
  }
  store.claim(opts.id);
  const release = store.lock(opts.id);
  let manager: CgroupManager | undefined;
  let child: ChildProcess | undefined;
  try {
    mknod(store.fifoPath(opts.id), S_IFIFO | 0o622, makedev(0, 0));
    manager = newCgroupManager({ id: opts.id, cgroupsPath: spec.linux?.cgroupsPath });
    manager.create();
    manager.apply(spec.linux?.resources);
    const preserveFds = opts.preserveFds ?? 0;
    child = spawnStage(spec, preserveFds);
    const spawned = child;
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
    };
    channel.sendPlan(plan);
    await converse(channel, spawned, manager, spec, () => ociState(record, 'creating'));
    channel.close();
    record.pidStartTime = readProcStat(spawned.pid!)?.startTime ?? 0;
    store.write(record);
    if (opts.pidFile) writeFileAtomic(path.resolve(opts.pidFile), String(spawned.pid));
    return { record, child: spawned };
  } catch (err) {
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
