// The monitor of one container (what conmon is to podman): creates it through the runtime, wires its
// network between create and start, starts it, waits for it as its child subreaper, records the exit status
// and cleans up. The foreground `tslab run` is its own monitor; `run -d` starts a detached one.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { close } from '../linux/fs.js';
import { PR_SET_CHILD_SUBREAPER, prctl, waitpidNoHang } from '../linux/process.js';
import { acceptUnix, listenUnix, recvFd } from '../linux/socket.js';
import { relayTerminal } from '../runtime/terminal-relay.js';
import { readProcStat } from '../runtime/proc.js';
import { exitStatus } from '../runtime/steps/exit-status.js';
import { callRuntime, startFailureStatus } from './runtime-cli.js';
import { loadRecord, saveRecord, type ContainerRecord } from './record.js';
import { connectNetwork, disconnectNetwork } from './network.js';
import { removeContainerFiles, unmountRootfs } from './storage.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface SuperviseOptions {
  /** stdio for `runtime create`, which hands it to the container: the terminal (foreground) or the log file. */
  stdio: Array<'inherit' | 'ignore' | number>;
  /** Forward SIGINT/SIGTERM/SIGHUP to the container (foreground). */
  forwardSignals: boolean;
}

function signalName(signal: number): NodeJS.Signals | null {
  return (Object.entries(os.constants.signals).find(([, n]) => n === signal)?.[0] as NodeJS.Signals) ?? null;
}

function explainCreateFailure(record: ContainerRecord, stderr: string): number {
  const status = startFailureStatus(stderr);
  if (status === 127 && /no such executable file/.test(stderr)) {
    // The runtime cannot tell "missing" from "not executable" for a path: the rootfs can.
    const file = record.command[0];
    if (file && fs.existsSync(path.join(record.rootfs, file))) return 126;
  }
  return status;
}

/** A unix socket path holds at most 107 bytes: the console socket gets a short one of its own. */
function consoleSocketPath(id: string): string {
  return path.join(fs.existsSync('/run') ? '/run' : os.tmpdir(), `tslab-console-${id.slice(0, 16)}.sock`);
}

/** Runs the container to its end; returns its exit status (docker's numbers). */
export async function superviseContainer(id: string, opts: SuperviseOptions): Promise<number> {
  const record = loadRecord(id);
  try {
    return await supervise(record, opts);
  } catch (err) {
    // Whatever failed before the container ran, the record, mounts and network must not stay behind.
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`tslab: ${message}\n`);
    callRuntime(record.runtime, ['delete', '--force', record.id]);
    return finish({ ...loadRecord(id), error: message }, 125);
  }
}

async function supervise(initial: ContainerRecord, opts: SuperviseOptions): Promise<number> {
  let record = initial;
  const id = record.id;
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  const self = readProcStat(process.pid)!;
  record.monitor = { pid: process.pid, startTime: self.startTime };
  saveRecord(record);
  const pidFile = path.join(path.dirname(record.bundle), 'init.pid');
  const logFile = path.join(path.dirname(record.bundle), 'runtime.log');
  const consoleSocket = record.tty ? consoleSocketPath(id) : undefined;
  if (consoleSocket) fs.rmSync(consoleSocket, { force: true });
  const listening = consoleSocket ? listenUnix(consoleSocket) : undefined;
  let create;
  let master: number | undefined;
  try {
    create = callRuntime(
      record.runtime,
      ['create', '--bundle', record.bundle, '--pid-file', pidFile, ...(consoleSocket ? ['--console-socket', consoleSocket] : []), record.id],
      { stdio: opts.stdio, logFile },
    );
    // The runtime connected and sent the pty master during create; the connection waited in the backlog.
    if (listening !== undefined && create.status === 0) master = receiveMaster(listening);
  } finally {
    if (listening !== undefined) close(listening);
    if (consoleSocket) fs.rmSync(consoleSocket, { force: true });
  }
  if (create.status !== 0) {
    record.error = create.error || 'the runtime could not create the container';
    if (opts.stdio[2] !== 'inherit') process.stderr.write(`tslab: ${record.error}\n`);
    return finish(record, explainCreateFailure(record, create.error));
  }
  const pid = Number(fs.readFileSync(pidFile, 'utf8'));
  record.pid = pid;
  record.pidStartTime = readProcStat(pid)?.startTime;
  saveRecord(record);
  try {
    record = connectNetwork(record);
    saveRecord(record);
  } catch (err) {
    record.error = (err as Error).message;
    process.stderr.write(`tslab: ${record.error}\n`);
    callRuntime(record.runtime, ['delete', '--force', record.id]);
    return finish(record, 125);
  }
  const forward = (signal: NodeJS.Signals) => callRuntime(record.runtime, ['kill', record.id, signal]);
  if (opts.forwardSignals) for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, forward);
  const start = callRuntime(record.runtime, ['start', record.id]);
  if (start.status !== 0) {
    record.error = start.error || 'the runtime could not start the container';
    process.stderr.write(`tslab: ${record.error}\n`);
    callRuntime(record.runtime, ['delete', '--force', record.id]);
    return finish(record, 125);
  }
  record.status = 'running';
  record.startedAt = new Date().toISOString();
  saveRecord(record);
  const relay = master === undefined ? undefined : relayTerminal(master, { stdin: process.stdin, stdout: process.stdout });
  const resize = () => relay?.resize();
  if (relay) {
    resize();
    process.on('SIGWINCH', resize);
  }
  let status: number | undefined;
  while (status === undefined) {
    // Adopted when `runtime create` exited: the init is our child now (we are its subreaper).
    const ended = waitpidNoHang(pid);
    if (ended) status = exitStatus(ended.code, ended.signal === null ? null : signalName(ended.signal));
    else await sleep(20);
  }
  if (opts.forwardSignals) for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(signal, forward);
  if (relay) {
    process.off('SIGWINCH', resize);
    await Promise.race([relay.done, sleep(1000)]);
    relay.close();
  }
  callRuntime(record.runtime, ['delete', '--force', record.id]);
  return finish(loadRecord(id), status);
}

function receiveMaster(listening: number): number {
  const connection = acceptUnix(listening);
  try {
    return recvFd(connection).fd;
  } finally {
    close(connection);
  }
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
