// A runc-compatible runtime driven through its command line, as podman and containerd drive runc. Its
// init is re-parented to us when `create` exits: we are the child subreaper, and reap it ourselves.
import { spawnSync, type StdioOptions } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { close } from '../linux/fs.js';
import { PR_SET_CHILD_SUBREAPER, prctl, waitpidNoHang } from '../linux/process.js';
import { acceptUnix, listenUnix, recvFd } from '../linux/socket.js';
import { runtimeRoot } from './engine-paths.js';
import { type ContainerRuntime, type CreateRequest, type CreatedInit, type InitEnd, RuntimeCallError } from './container-runtime.js';


function lastLoggedError(logFile: string): string {
  try {
    const lines = fs.readFileSync(logFile, 'utf8').trim().split('\n').reverse();
    for (const line of lines) {
      const entry = JSON.parse(line) as { level?: string; msg?: string };
      if (entry.level === 'error' && entry.msg) return entry.msg;
    }
  } catch {
    // No log, or not JSON: nothing to add.
  }
  return '';
}

/** A unix socket path holds at most 107 bytes: the console socket gets a short one of its own. */
function consoleSocketPath(id: string): string {
  return path.join(fs.existsSync('/run') ? '/run' : os.tmpdir(), `tslab-console-${id.slice(0, 16)}.sock`);
}

function signalName(signal: number): NodeJS.Signals | null {
  return (Object.entries(os.constants.signals).find(([, n]) => n === signal)?.[0] as NodeJS.Signals) ?? null;
}

/** Polls for the end of an adopted init: it is not our child as far as Node knows, so no 'exit' event. */
async function reap(pid: number): Promise<InitEnd> {
  for (;;) {
    const ended = waitpidNoHang(pid);
    if (ended) return { code: ended.code, signal: ended.signal === null ? null : signalName(ended.signal) };
    await sleep(20);
  }
}

function receiveMaster(listening: number): number {
  const connection = acceptUnix(listening);
  try {
    return recvFd(connection).fd;
  } finally {
    close(connection);
  }
}

export class CliRuntime implements ContainerRuntime {
  constructor(readonly executable: string) {}

  /** Runs the runtime; throws RuntimeCallError with what it said (read from its JSON log, if given, as containerd does). */
  private call(args: string[], stdio: StdioOptions = ['ignore', 'ignore', 'pipe'], logFile?: string): void {
    const logArgs = logFile ? ['--log', logFile, '--log-format', 'json'] : [];
    if (logFile) fs.rmSync(logFile, { force: true });
    const result = spawnSync(this.executable, ['--root', runtimeRoot(), ...logArgs, ...args], { stdio, encoding: 'utf8' });
    if (result.error) throw new RuntimeCallError(`${this.executable}: ${result.error.message}`);
    if (result.status === 0) return;
    const stderr = typeof result.stderr === 'string' ? result.stderr.trim().replace(/^tslab-runtime: /, '') : '';
    const shown = Array.isArray(stdio) && stdio[2] !== 'ignore' && stdio[2] !== 'pipe';
    throw new RuntimeCallError((logFile ? lastLoggedError(logFile) : '') || stderr || `${path.basename(this.executable)} ${args[0]} failed`, shown);
  }

  async create(request: CreateRequest): Promise<CreatedInit> {
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    const pidFile = path.join(request.workDir, 'init.pid');
    const consoleSocket = request.terminal ? consoleSocketPath(request.id) : undefined;
    if (consoleSocket) fs.rmSync(consoleSocket, { force: true });
    const listening = consoleSocket ? listenUnix(consoleSocket) : undefined;
    let terminalMaster: number | undefined;
    try {
      const socketArgs = consoleSocket ? ['--console-socket', consoleSocket] : [];
      // `create` hands its stdio to the container: a pipe here would keep us waiting for the container.
      this.call(['create', '--bundle', request.bundle, '--pid-file', pidFile, ...socketArgs, request.id], request.stdio, path.join(request.workDir, 'runtime.log'));
      // The runtime connected and sent the pty master during create; the connection waited in the backlog.
      if (listening !== undefined) terminalMaster = receiveMaster(listening);
    } finally {
      if (listening !== undefined) close(listening);
      if (consoleSocket) fs.rmSync(consoleSocket, { force: true });
    }
    const pid = Number(fs.readFileSync(pidFile, 'utf8'));
    return { pid, terminalMaster, ended: reap(pid) };
  }

  start(id: string): void {
    this.call(['start', id]);
  }

  kill(id: string, signal: string): void {
    this.call(['kill', id, signal]);
  }

  delete(id: string, force: boolean): void {
    this.call(['delete', ...(force ? ['--force'] : []), id]);
  }
}
