// The operations behind `tslab run/ps/logs/exec/stop/kill/rm/inspect`: the CLI parses and prints, this does.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { distScript, helperEnv } from '../fs/package.js';
import { isAlive } from '../linux/proc.js';
import { prepareContainer } from './prepare.js';
import { fileStep } from './file-step.js';
import { findRecord, listRecords, loadRecord, refreshStatus, saveRecord, type ContainerRecord } from './record.js';
import { RuntimeCallError } from './container-runtime.js';
import { runtimeDriver } from './runtime-driver.js';
import type { RunOptions } from './spec.js';
import { runtimeRoot } from './engine-paths.js';
import { removeContainerFiles, unmountRootfs } from './storage.js';
import { superviseContainer } from './supervise.js';
import { disconnectNetwork } from './network.js';

export class EngineError extends Error {
  constructor(
    message: string,
    readonly status = 125,
  ) {
    super(message);
  }
}


/** `tslab run`: returns the exit status (foreground) or 0 after printing the id (-d). */
export async function runImage(options: RunOptions, runtime: string, write: (text: string) => void): Promise<number> {
  const record = await prepareContainer(options, runtime);
  if (!options.detach) {
    return superviseContainer(record.id, { stdio: [options.interactive ? 'inherit' : 'ignore', 'inherit', 'inherit'], forwardSignals: true });
  }
  const log = fileStep("opening the container's log", record.logFile, () => fs.openSync(record.logFile, 'a'));
  const monitor = spawn(process.execPath, [distScript('engine', 'monitor-main.cjs'), record.id], { stdio: ['ignore', log, log], env: helperEnv(), detached: true });
  fs.closeSync(log);
  monitor.unref();
  // Report once the container runs (or could not start), as `docker run -d` does.
  for (;;) {
    const now = loadRecord(record.id);
    if (now.status === 'running') break;
    if (now.status === 'exited') {
      if (now.error) throw new EngineError(now.error, now.exitCode ?? 125);
      break;
    }
    if (monitor.exitCode !== null) throw new EngineError(`the container monitor exited (${monitor.exitCode}); see ${record.logFile}`);
    await sleep(20);
  }
  write(`${record.id}\n`);
  return 0;
}

function running(record: ContainerRecord): boolean {
  return refreshStatus(record).status === 'running' && record.pid !== undefined && isAlive(record.pid, record.pidStartTime!);
}

async function waitForExit(record: ContainerRecord, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!running(loadRecord(record.id))) return true;
    await sleep(20);
  }
  return !running(loadRecord(record.id));
}

/** Sends `signal` through the container's runtime; a container that ended meanwhile is fine where the caller says so. */
async function signalContainer(record: ContainerRecord, signal: string, opts: { ignoreEnded?: boolean } = {}): Promise<void> {
  try {
    (await runtimeDriver(record.runtime)).kill(record.id, signal);
  } catch (err) {
    if (opts.ignoreEnded && !running(loadRecord(record.id))) return;
    throw new EngineError(err instanceof RuntimeCallError ? err.message : `could not send ${signal}: ${(err as Error).message}`);
  }
}

/** Waits until the monitor has recorded the end (status, exit code, cleanup). */
async function waitForMonitor(record: ContainerRecord, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const now = loadRecord(record.id);
    const monitorAlive = now.monitor ? isAlive(now.monitor.pid, now.monitor.startTime) : false;
    if (!monitorAlive || Date.now() > deadline) return;
    await sleep(20);
  }
}

/** `tslab kill`: a signal to a running container, through its runtime (a stopped one is an error, as in docker). */
export async function killRunningContainer(nameOrId: string, signal = 'SIGKILL'): Promise<ContainerRecord> {
  const record = findRecord(nameOrId);
  if (!running(record)) throw new EngineError(`container ${record.name} is not running`);
  await signalContainer(record, signal);
  return record;
}

/** `tslab stop`: the image's stop signal, then SIGKILL after `timeoutSeconds`. */
export async function stopContainer(nameOrId: string, timeoutSeconds = 10): Promise<ContainerRecord> {
  const record = findRecord(nameOrId);
  if (monitorLost(record)) return releaseUnmonitored(loadRecord(record.id));
  if (!running(record)) return record;
  await signalContainer(record, record.stopSignal, { ignoreEnded: true });
  if (!(await waitForExit(record, timeoutSeconds * 1000))) await signalContainer(record, 'SIGKILL', { ignoreEnded: true });
  await waitForExit(record, 10_000);
  await waitForMonitor(record);
  return loadRecord(record.id);
}

/** Whether the record was left "created" or "running" by a monitor that died (refreshStatus shows it exited). */
function monitorLost(record: ContainerRecord): boolean {
  const saved = loadRecord(record.id); // as saved: findRecord's copy is already refreshed
  return saved.status !== 'exited' && saved.monitor !== undefined && refreshStatus(saved).status === 'exited';
}

/**
 * What the dead monitor would have done at the container's end: end what is left of it (the runtime's
 * forced delete kills the init and removes its cgroups and state), release its network and overlay mount,
 * and record it as exited with an unknown status.
 */
async function releaseUnmonitored(record: ContainerRecord): Promise<ContainerRecord> {
  try {
    (await runtimeDriver(record.runtime)).delete(record.id, true);
  } catch (err) {
    if (record.pid !== undefined && record.pidStartTime !== undefined && isAlive(record.pid, record.pidStartTime)) {
      throw new EngineError(`could not end container ${record.name}, whose monitor died: ${(err as Error).message}`);
    }
    // Nothing left in the runtime's state.
  }
  // The runtime's delete may leave the init it no longer tracks (it was the dead monitor's child): end it by
  // the pid and start time recorded for it, so a reused pid is never hit.
  if (record.pid !== undefined && record.pidStartTime !== undefined && isAlive(record.pid, record.pidStartTime)) {
    try {
      process.kill(record.pid, 'SIGKILL');
    } catch {
      // It ended meanwhile.
    }
    for (let i = 0; i < 250 && isAlive(record.pid, record.pidStartTime); i++) await sleep(20);
  }
  disconnectNetwork(record);
  unmountRootfs(record);
  const ended = { ...refreshStatus(record), proxies: [], monitor: undefined };
  saveRecord(ended);
  return ended;
}

/** `tslab rm`: refuses a running container unless forced. */
export async function removeContainer(nameOrId: string, force: boolean): Promise<ContainerRecord> {
  const record = findRecord(nameOrId);
  if (monitorLost(record)) await releaseUnmonitored(loadRecord(record.id));
  else if (running(record)) {
    if (!force) throw new EngineError(`container ${record.name} is running: stop it first, or use rm -f`);
    await signalContainer(record, 'SIGKILL', { ignoreEnded: true });
    await waitForExit(record, 10_000);
    await waitForMonitor(record);
  }
  const final = loadRecord(record.id);
  // A monitor that died (or a crash) leaves these behind: release them here.
  try {
    (await runtimeDriver(final.runtime)).delete(final.id, true);
  } catch {
    // Nothing left in the runtime's state: the monitor deleted it.
  }
  disconnectNetwork(final);
  removeContainerFiles(final);
  return final;
}

export function listContainers(all: boolean): ContainerRecord[] {
  return listRecords()
    .filter((r) => all || r.status === 'running')
    .sort((a, b) => b.created.localeCompare(a.created));
}

/** `tslab logs [-f]`: what the container wrote (detached containers log to a file), streamed: a log may be larger than memory. */
export async function streamLogs(nameOrId: string, follow: boolean, write: (chunk: Buffer) => Promise<void>): Promise<void> {
  const record = findRecord(nameOrId);
  let offset = 0;
  const chunk = Buffer.alloc(1024 * 1024);
  const drain = async () => {
    const fd = fileStep("opening the container's log", record.logFile, () => {
      try {
        return fs.openSync(record.logFile, 'r');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined; // a foreground container has no log file
        throw err;
      }
    });
    if (fd === undefined) return;
    try {
      for (;;) {
        const n = fileStep("reading the container's log", record.logFile, () => fs.readSync(fd, chunk, 0, chunk.length, offset));
        if (n === 0) break;
        offset += n;
        await write(chunk.subarray(0, n));
      }
    } finally {
      fs.closeSync(fd);
    }
  };
  await drain();
  while (follow && running(loadRecord(record.id))) {
    await sleep(100);
    await drain();
  }
  await drain();
}

/**
 * `tslab exec`: the runtime's own `exec` (as docker calls runc's): the container's namespaces, root, cgroups,
 * environment, user and capabilities, its seccomp filter and no_new_privs.
 */
export function execInContainer(nameOrId: string, command: string[], interactive: boolean, tty = false): number {
  const record = findRecord(nameOrId);
  if (!running(record)) throw new EngineError(`container ${record.name} is not running`);
  if (!command.length) throw new EngineError('exec needs a command: tslab exec CONTAINER COMMAND...');
  const result = spawnSync(record.runtime, ['--root', runtimeRoot(), 'exec', ...(tty ? ['--tty'] : []), record.id, ...command], {
    stdio: [interactive ? 'inherit' : 'ignore', 'inherit', 'inherit'],
  });
  return result.status ?? 125;
}
