// `start`: opening the exec FIFO's read end releases the init blocked on its write end; it then execs.
import * as fs from 'node:fs';
import { ociState } from './create.js';
import { RuntimeError } from './errors.js';
import { runHooks } from './hooks.js';
import { isAlive, sleepSync } from './proc.js';
import { containerStatus } from './status.js';
import type { ContainerRecord, StateStore } from './state.js';

export type Warn = (message: string) => void;

function releaseInit(store: StateStore, record: ContainerRecord): void {
  const fifo = store.fifoPath(record.id);
  // Non-blocking, so a dead init cannot hang us: we poll for its byte while checking it is alive.
  const fd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  try {
    const byte = Buffer.alloc(1);
    for (;;) {
      let n = 0;
      try {
        n = fs.readSync(fd, byte);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      }
      if (n === 1) break;
      if (!isAlive(record.pid, record.pidStartTime)) throw new RuntimeError('cannot start a container that has stopped');
      sleepSync(1);
    }
  } finally {
    fs.closeSync(fd);
  }
  fs.rmSync(fifo, { force: true });
}

export function startContainer(store: StateStore, id: string, warn: Warn): ContainerRecord {
  const release = store.lock(id);
  try {
    const record = store.read(id);
    const status = containerStatus(store, record);
    if (status === 'stopped') throw new RuntimeError('cannot start a container that has stopped');
    if (status !== 'created') throw new RuntimeError(`cannot start an already ${status} container`);
    releaseInit(store, record);
    try {
      runHooks('poststart', record.hooks?.poststart, ociState(record, 'running'));
    } catch (err) {
      warn((err as Error).message);
    }
    return record;
  } finally {
    release();
  }
}
