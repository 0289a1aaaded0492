// `start`: opening the exec FIFO's read end releases the init blocked on its write end; it then execs.
import { RuntimeError } from '../runtime-error.js';
import { runHooks } from '../hooks/oci-hooks.js';
import { isAlive } from '../../linux/proc.js';
import { containerStatus, ociState } from '../state/status.js';
import type { StateRecord, StateStore } from '../state/store.js';
import { releaseInit } from '../steps/exec-fifo.js';

const STOPPED = 'cannot start a container that has stopped';

export type Warn = (message: string) => void;

/** Lets the init exec (steps/exec-fifo.ts). Whatever the step threw, an init that is gone is said as the user's error. */
function letInitRun(store: StateStore, record: StateRecord): void {
  const initAlive = () => isAlive(record.pid, record.pidStartTime);
  try {
    releaseInit(store.fifoPath(record.id), initAlive);
  } catch (err) {
    if (!initAlive()) throw new RuntimeError(STOPPED);
    throw err;
  }
}

export function startContainer(store: StateStore, id: string, warn: Warn): StateRecord {
  const release = store.lock(id);
  try {
    const record = store.read(id);
    const status = containerStatus(store, record);
    if (status === 'stopped') throw new RuntimeError(STOPPED);
    if (status !== 'created') throw new RuntimeError(`cannot start an already ${status} container`);
    letInitRun(store, record);
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
