// `create`: everything up to a container whose init waits on the exec FIFO for `start`.
// The orchestrator handles what must happen outside the container (PID namespace, cgroups, hooks that
// run in the runtime's namespaces, state); the PID-1 stage builds the rest from the inside.
//
// A create can be killed at any instant (kill -9, a machine that goes down, an engine that gives up), so it
// claims the id first and keeps a journal in the state directory: each thing it makes on the host is
// written there before it is made (a process: as soon as it is born). Whatever is left of a create that
// did not finish, delete --force undoes from the journal (undo-create.ts). The stage itself ends when its
// channel to us closes before we told it the container is recorded, so the stage of a create that died
// goes by itself.
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { S_IFIFO, close, makedev, mknod } from '../../linux/fs.js';
import { recvFd, sendFd } from '../../linux/socket.js';
import { kernelMemoryWarning, newCgroupManager, type CgroupManager, type SavedCgroups } from '../cgroups/index.js';
import { RuntimeError, fileError } from '../runtime-error.js';
import { type HookProcess, runHooksAsync } from '../hooks/oci-hooks.js';
import { ownByContainerRoot } from '../init/launch-userns.js';
import { type LaunchOptions, type LaunchedStage, type TerminalRoute, closeTerminalRoute, discardStage, launchStage, matchesSpec } from '../init/launch.js';
import { OrchestratorChannel } from '../init/orchestrator-channel.js';
import { readProcStat } from '../../linux/proc.js';
import { unlessAborted } from '../../linux/within.js';
import type { StageMessage, StagePlan } from '../init/protocol.js';
import { loadSpec, resolveRootfs } from '../spec/load.js';
import type { Spec, State } from '../spec/types.js';
import { type StateRecord, type CreateJournal, type StateStore, journalProcess, writeFileAtomic } from '../state/store.js';
import { ociState } from '../state/status.js';
import { undoCreate } from './undo-create.js';

const CGROUP_ROOT = '/sys/fs/cgroup';

export interface CreateOptions extends LaunchOptions {
  id: string;
  bundle: string;
  pidFile?: string;
  noPivot?: boolean;
  /** A stage already launched by claimAndLaunchEarly(); used if it fits the validated spec. */
  launched?: LaunchedStage;
  /** The id was claimed already by this process (claimAndLaunchEarly): the release of its lock. */
  claimed?: () => void;
  /** Told about what is accepted but probably not meant (unknown config.json fields). */
  warn?: (message: string) => void;
  /** Aborted (by SIGTERM or SIGINT to `create`): the create stops, undoes everything it made, and fails. */
  signal?: AbortSignal;
  /** Told as each phase of the create ends (--debug's timings). */
  phase?: (what: string) => void;
}

export interface CreatedContainer {
  record: StateRecord;
  child: ChildProcess;
  /** The pty master, when the container has a terminal and the caller keeps it. */
  terminalMaster?: number;
}

/**
 * Controllers whose limits would bite the stage's own Node start-up, by when the stage joins them. Memory
 * charges stay with the cgroup current at allocation and a pids limit would refuse Node's threads: those
 * hierarchies are joined when the stage is ready for them. A CPU quota (or a cpuset) slows every instruction
 * of the stage: those are joined by the stage itself as its last act before execve, after `start`, so only
 * the container's program ever runs under them. The exception is a new cgroup namespace, which is rooted at
 * the cgroups current when it is made: then cpu and cpuset are joined when ready too, as runc's are.
 * Every other hierarchy the stage joins while it boots, which takes the first cgroup migration's wait for an
 * RCU grace period (5-10 ms here) off the critical path.
 */
function controllersLimitingStartup(spec: Spec): { atReady: Set<string>; atStart: Set<string> } {
  const resources = spec.linux?.resources;
  const atReady = new Set<string>();
  const atStart = new Set<string>();
  const memory = resources?.memory;
  if (memory && (memory.limit !== undefined || memory.reservation !== undefined || memory.swap !== undefined)) atReady.add('memory');
  if (resources?.pids && resources.pids.limit > 0) atReady.add('pids');
  const newCgroupNs = spec.linux?.namespaces?.some((n) => n.type === 'cgroup' && !n.path) ?? false;
  // Root of a user namespace cannot open the host's cgroup files: we move it, at ready.
  const userNs = spec.linux?.namespaces?.some((n) => n.type === 'user') ?? false;
  const cpuJoin = newCgroupNs || userNs ? atReady : atStart;
  const cpu = resources?.cpu;
  if (cpu && (cpu.quota !== undefined || cpu.shares !== undefined || cpu.realtimeRuntime !== undefined)) cpuJoin.add('cpu');
  if (cpu && (cpu.cpus || cpu.mems)) cpuJoin.add('cpuset');
  return { atReady, atStart };
}

function cgroupDirs(manager: CgroupManager): StagePlan['cgroupDirs'] {
  return Object.values(manager.paths).map((hostPath) => ({
    name: path.relative(CGROUP_ROOT, hostPath).split('/')[0],
    hostPath,
  }));
}

/** The create's journal, in memory and in the state directory; each change reaches the disk before what it names is made. */
class Journal {
  readonly entries: CreateJournal = { hooks: [] };

  constructor(
    private readonly store: StateStore,
    private readonly id: string,
  ) {}

  stage(stage: LaunchedStage): void {
    // Journaled already by claimAndLaunchEarly: the same entry, not written twice.
    if (stage.journaled) {
      this.entries.stage = stage.journaled;
      return;
    }
    if (stage.child.pid === undefined) return; // never born: the spawn error is reported by the conversation
    this.entries.stage = journalProcess(stage.child.pid);
    this.save();
  }

  cgroups(saved: SavedCgroups): void {
    this.entries.cgroups = saved;
    this.save();
  }

  hookStarted(hook: HookProcess): void {
    this.entries.hooks.push(hook);
    this.save();
  }

  hookEnded(hook: HookProcess): void {
    this.entries.hooks = this.entries.hooks.filter((h) => h.pid !== hook.pid);
    this.save();
  }

  private save(): void {
    this.store.writeJournal(this.id, this.entries);
  }
}

/** The reason an aborted create gives, as an error. */
function interrupted(signal: AbortSignal): RuntimeError {
  return new RuntimeError(`create interrupted (${String(signal.reason)}): everything it had made was undone`);
}

/** Conducts the stage through its requests until it is ready (or fails). */
async function converse(
  channel: OrchestratorChannel,
  child: ChildProcess,
  manager: CgroupManager,
  spec: Spec,
  stateOf: () => State,
  terminal: TerminalRoute | undefined,
  joinAtReady: (controllers: readonly string[]) => boolean,
  journal: Journal,
  signal: AbortSignal | undefined,
  phase: (what: string) => void,
): Promise<void> {
  for (;;) {
    const message: StageMessage | undefined = await unlessAborted(channel.next(), signal, () => interrupted(signal!));
    phase(`init says ${message?.type ?? 'nothing (its channel closed)'}`);
    if (!message) {
      const exited = await new Promise<string>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) resolve(String(child.exitCode ?? child.signalCode));
        else child.once('exit', (code, sig) => resolve(String(code ?? sig)));
      });
      throw new RuntimeError(`container init exited before it was ready (status ${exited})`);
    }
    switch (message.type) {
      case 'join-cgroups':
        manager.addProcess(child.pid!, joinAtReady);
        channel.reply({ type: 'ok' });
        break;
      case 'run-hooks':
        try {
          const hookOptions = { signal, started: (h: HookProcess) => journal.hookStarted(h), ended: (h: HookProcess) => journal.hookEnded(h) };
          await runHooksAsync('prestart', spec.hooks?.prestart, stateOf(), hookOptions);
          await runHooksAsync('createRuntime', spec.hooks?.createRuntime, stateOf(), hookOptions);
        } catch (err) {
          channel.reply({ type: 'abort', message: (err as Error).message });
          throw signal?.aborted ? interrupted(signal) : err;
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

/** Makes the exec FIFO, writable by anyone: the init opens it after taking on the container's (maybe unprivileged) user. */
function makeExecFifo(file: string): void {
  mknod(file, S_IFIFO | 0o622, makedev(0, 0));
  try {
    fs.chmodSync(file, 0o622);
  } catch (err) {
    throw fileError('set the mode (0622, writable by the container\'s user) of', file, err);
  }
}

export async function createContainer(store: StateStore, opts: CreateOptions): Promise<CreatedContainer> {
  const { signal } = opts;
  const phase = opts.phase ?? (() => {});
  let stage = opts.launched;
  let release: () => void;
  try {
    // First of all: from here on the state directory exists, and the journal in it says what to undo.
    release = opts.claimed ?? store.claim(opts.id);
  } catch (err) {
    await discardStage(stage);
    throw err;
  }
  const journal = new Journal(store, opts.id);
  try {
    if (signal?.aborted) throw interrupted(signal);
    if (stage) journal.stage(stage);
    const bundle = path.resolve(opts.bundle);
    const spec = loadSpec(bundle, (field) => opts.warn?.(`config.json: unknown field "${field}" ignored (a misspelling?)`));
    const rootfs = resolveRootfs(bundle, spec);
    phase('config.json loaded and checked');
    if (stage && !matchesSpec(stage, spec)) {
      await discardStage(stage);
      stage = undefined;
    }
    if (!stage) {
      stage = launchStage(spec, opts);
      journal.stage(stage);
    }
    const { child, terminal } = stage;
    makeExecFifo(store.fifoPath(opts.id));
    ownByContainerRoot(store.fifoPath(opts.id), spec, child.pid!);
    const { manager, joinAtStart, joinAtReady } = makeCgroups(opts, spec, child, journal);
    phase('cgroups made, the init moved into those its boot may use');
    const channel = new OrchestratorChannel(child, stage.channelFd);
    const record = newRecord(opts.id, child.pid!, bundle, rootfs, spec, manager);
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
      startCgroups: manager.toJSON().hierarchies.filter((h) => joinAtStart(h.controllers)).map((h) => h.dir),
      terminal: terminal !== undefined,
      joinCgroups: manager.toJSON().hierarchies.some((h) => joinAtReady(h.controllers)),
      runtimeHooks: (spec.hooks?.prestart?.length ?? 0) + (spec.hooks?.createRuntime?.length ?? 0) > 0,
      state: ociState(record, 'creating'),
    };
    channel.sendPlan(plan);
    await converse(channel, child, manager, spec, () => ociState(record, 'creating'), terminal, joinAtReady, journal, signal, phase);
    if (signal?.aborted) throw interrupted(signal);
    record.pidStartTime = readProcStat(child.pid!)?.startTime ?? 0;
    store.write(record);
    if (opts.pidFile) writeFileAtomic(path.resolve(opts.pidFile), String(child.pid));
    // Recorded: from here the stage waits for `start` (or delete); killed before this, it would end itself.
    await channel.finish({ type: 'committed' });
    phase('recorded');
    closeTerminalRoute(terminal, true);
    return { record, child, terminalMaster: terminal?.master };
  } catch (err) {
    await discardStage(stage);
    try {
      undoCreate(store, opts.id, journal.entries);
    } catch (undoErr) {
      throw new RuntimeError(`${(err as Error).message}; and undoing the create failed: ${(undoErr as Error).message}`);
    }
    throw err;
  } finally {
    release();
  }
}

/**
 * The container's cgroups, made and limited, with the init moved into those its boot may use; the
 * controllers that would slow its boot are joined later (at `ready`, or by the init itself at `start`).
 */
function makeCgroups(opts: CreateOptions, spec: Spec, child: ChildProcess, journal: Journal) {
  const manager = newCgroupManager({ id: opts.id, cgroupsPath: spec.linux?.cgroupsPath });
  journal.cgroups(manager.intended());
  manager.create();
  journal.cgroups(manager.toJSON());
  manager.apply(spec.linux?.resources);
  const kernelMemory = kernelMemoryWarning(spec.linux?.resources);
  if (kernelMemory) opts.warn?.(kernelMemory);
  const { atReady, atStart } = controllersLimitingStartup(spec);
  const joinAtStart = (controllers: readonly string[]) => controllers.some((c) => atStart.has(c));
  const joinAtReady = (controllers: readonly string[]) => !joinAtStart(controllers) && controllers.some((c) => atReady.has(c));
  try {
    manager.addProcess(child.pid!, (controllers) => !joinAtStart(controllers) && !joinAtReady(controllers));
  } catch (err) {
    // A stage that died already is reported by the conversation with it (converse); anything else is ours to report.
    if (child.exitCode === null && child.signalCode === null && readProcStat(child.pid!) !== undefined) throw err;
  }
  return { manager, joinAtStart, joinAtReady };
}

/** state.json's record of a container whose init is `pid` (its start time is filled in once it is ready). */
function newRecord(id: string, pid: number, bundle: string, rootfs: string, spec: Spec, manager: CgroupManager): StateRecord {
  return {
    ociVersion: spec.ociVersion,
    id,
    pid,
    pidStartTime: 0,
    bundle,
    rootfs,
    created: new Date().toISOString(),
    owner: '',
    annotations: spec.annotations ?? {},
    cgroups: manager.toJSON(),
    hooks: spec.hooks,
    seccomp: spec.linux?.seccomp,
  };
}
