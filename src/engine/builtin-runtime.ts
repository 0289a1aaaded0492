// tslab's own runtime called as a library, in this process: the same create/start/kill/delete that
// tslab-runtime's command line runs, without a Node start-up for each call. The init is our child, so
// Node reaps it and reports its end.
import * as fs from 'node:fs';
import { createContainer } from '../runtime/operations/create.js';
import { deleteContainer } from '../runtime/operations/delete.js';
import { killContainer } from '../runtime/operations/kill.js';
import { parseSignal } from '../runtime/process/signals.js';
import { startContainer } from '../runtime/operations/start.js';
import { StateStore } from '../runtime/state/store.js';
import { runtimeRoot } from './engine-paths.js';
import { type ContainerRuntime, type CreateRequest, type CreatedInit, type InitEnd, RuntimeCallError } from './container-runtime.js';

const warn = (message: string) => process.stderr.write(`tslab: ${message}\n`);

/** Runs one runtime operation; whatever it throws becomes a RuntimeCallError with its message. */
function calling<T>(operation: () => T): T {
  try {
    return operation();
  } catch (err) {
    throw new RuntimeCallError(err instanceof Error ? err.message : String(err));
  }
}

export class BuiltinRuntime implements ContainerRuntime {
  private readonly store = new StateStore(runtimeRoot());

  async create(request: CreateRequest): Promise<CreatedInit> {
    const opened: number[] = [];
    const fdOf = (entry: CreateRequest['stdio'][number], own: number): number => {
      if (entry === 'inherit') return own;
      if (typeof entry === 'number') return entry;
      const fd = fs.openSync('/dev/null', 'r+');
      opened.push(fd);
      return fd;
    };
    try {
      const stdio: [number, number, number] = [fdOf(request.stdio[0], 0), fdOf(request.stdio[1], 1), fdOf(request.stdio[2], 2)];
      const { child, terminalMaster } = await createContainer(this.store, {
        id: request.id,
        bundle: request.bundle,
        stdio,
        keepTerminal: request.terminal,
        warn,
      }).catch((err: unknown) => {
        throw new RuntimeCallError(err instanceof Error ? err.message : String(err));
      });
      const ended = new Promise<InitEnd>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
        else child.once('exit', (code, signal) => resolve({ code, signal }));
      });
      return { pid: child.pid!, terminalMaster, ended };
    } finally {
      for (const fd of opened) fs.closeSync(fd);
    }
  }

  start(id: string): void {
    calling(() => startContainer(this.store, id, warn));
  }

  kill(id: string, signal: string): void {
    calling(() => killContainer(this.store, id, parseSignal(signal), false));
  }

  delete(id: string, force: boolean): void {
    calling(() => deleteContainer(this.store, id, force, warn));
  }
}
