// The monitor of one container (what conmon is to podman): creates it through the runtime, wires its
// network between create and start, starts it, waits for its end, records the exit status and cleans up.
// The foreground `tslab run` is its own monitor; `run -d` starts a detached one.
import * as path from 'node:path';
import { within } from '../linux/within.js';
import { relayTerminal } from '../runtime/terminal/relay.js';
import { readProcStat } from '../linux/proc.js';
import { exitStatus } from '../runtime/steps/exit-status.js';
import { type ContainerRuntime, type CreatedInit, RuntimeCallError } from './container-runtime.js';
import { runtimeDriver, startFailureStatus } from './runtime-driver.js';
import { loadRecord, saveRecord, type ContainerRecord } from './record.js';
import { connectNetwork, disconnectNetwork } from './network.js';
import { removeContainerFiles, unmountRootfs } from './storage.js';


export interface SuperviseOptions {
  /** The container's stdio: the terminal (foreground) or the log file (detached). */
  stdio: Array<'inherit' | 'ignore' | number>;
  /** Forward SIGINT/SIGTERM/SIGHUP to the container (foreground). */
  forwardSignals: boolean;
}

/** Deletes what the runtime holds of a container that will not run; its own error, if any, is not the story. */
function forceDelete(runtime: ContainerRuntime, id: string): void {
  try {
    runtime.delete(id, true);
  } catch {
    // Nothing there to delete, or the runtime is broken: the caller reports the first failure.
  }
}

/** Runs the container to its end; returns its exit status (docker's numbers). */
export async function superviseContainer(id: string, opts: SuperviseOptions): Promise<number> {
  const record = loadRecord(id);
  const runtime = await runtimeDriver(record.runtime);
  try {
    return await supervise(runtime, record, opts);
  } catch (err) {
    // Whatever failed before the container ran, the record, mounts and network must not stay behind.
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`tslab: ${message}\n`);
    forceDelete(runtime, record.id);
    return finish({ ...loadRecord(id), error: message }, 125);
  }
}

async function supervise(runtime: ContainerRuntime, initial: ContainerRecord, opts: SuperviseOptions): Promise<number> {
  let record = initial;
  const self = readProcStat(process.pid)!;
  record.monitor = { pid: process.pid, startTime: self.startTime };
  saveRecord(record);
  let init: CreatedInit;
  try {
    init = await runtime.create({ id: record.id, bundle: record.bundle, stdio: opts.stdio, terminal: record.tty, workDir: path.dirname(record.bundle) });
  } catch (err) {
    record.error = (err as Error).message || 'the runtime could not create the container';
    if (!(err instanceof RuntimeCallError && err.shown)) process.stderr.write(`tslab: ${record.error}\n`);
    return finish(record, startFailureStatus(record.error));
  }
  record.pid = init.pid;
  record.pidStartTime = readProcStat(init.pid)?.startTime;
  saveRecord(record);
  try {
    record = connectNetwork(record);
    saveRecord(record);
    runtime.start(record.id);
  } catch (err) {
    record.error = (err as Error).message;
    process.stderr.write(`tslab: ${record.error}\n`);
    forceDelete(runtime, record.id);
    // A runtime that failed to kill it must not keep us waiting for good.
    await within(init.ended, 10_000);
    return finish(record, 125);
  }
  const forward = (signal: NodeJS.Signals) => {
    try {
      runtime.kill(record.id, signal);
    } catch {
      // It ended meanwhile: its end is on its way.
    }
  };
  if (opts.forwardSignals) for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, forward);
  record.status = 'running';
  record.startedAt = new Date().toISOString();
  saveRecord(record);
  const master = init.terminalMaster;
  const relay = master === undefined ? undefined : relayTerminal(master, { stdin: process.stdin, stdout: process.stdout });
  const resize = () => relay?.resize();
  if (relay) {
    resize();
    process.on('SIGWINCH', resize);
  }
  const ended = await init.ended;
  const status = exitStatus(ended.code, ended.signal);
  if (opts.forwardSignals) for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(signal, forward);
  if (relay) {
    process.off('SIGWINCH', resize);
    await within(relay.done, 1000);
    relay.close();
  }
  try {
    runtime.delete(record.id, true);
  } catch (err) {
    // The container ran: its status stands, but what the runtime could not remove must be said.
    process.stderr.write(`tslab: ${(err as Error).message}\n`);
  }
  return finish(loadRecord(record.id), status);
}

/** Records the end and releases what only a running container needs; --rm removes the rest. */
function finish(record: ContainerRecord, status: number): number {
  disconnectNetwork(record);
  unmountRootfs(record);
  const ended: ContainerRecord = { ...record, status: 'exited', exitCode: status, finishedAt: new Date().toISOString(), proxies: [], monitor: undefined };
  saveRecord(ended);
  if (record.autoRemove) removeContainerFiles(ended);
  return status;
}
