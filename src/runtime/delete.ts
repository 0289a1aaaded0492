// `delete`: removes a stopped container's cgroups and state; --force first kills a live one.
import { loadCgroupManager } from './cgroups/index.js';
import { ociState } from './create.js';
import { RuntimeError } from './errors.js';
import { runHooks } from './hooks.js';
import { waitForExit } from './proc.js';
import { containerStatus } from './status.js';
import type { ContainerRecord, StateStore } from './state.js';
import type { Warn } from './start.js';

const KILL_TIMEOUT_MS = 10_000;

export function deleteContainer(store: StateStore, id: string, force: boolean, warn: Warn): void {
  let release: (() => void) | undefined;
  let record: ContainerRecord;
  try {
    release = store.lock(id);
    record = store.read(id);
  } catch (err) {
    // With --force, an id that is gone is done: another delete removed it while we waited for the lock, or
    // it never existed. A directory without state (a create killed midway) is removed under the lock.
    if (force && !store.exists(id)) {
      if (release) store.remove(id);
      release?.();
      return;
    }
    release?.();
    throw err;
  }
  try {
    const status = containerStatus(store, record);
    const cgroups = loadCgroupManager(record.cgroups);
    if (status !== 'stopped') {
      if (!force) throw new RuntimeError(`cannot delete container ${id} that is not stopped: ${status}`);
      for (const pid of new Set([record.pid, ...cgroups.pids()])) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Exited meanwhile.
        }
      }
      if (status === 'paused') cgroups.thaw();
      if (!waitForExit(record.pid, record.pidStartTime, KILL_TIMEOUT_MS)) {
        throw new RuntimeError(`container ${id} did not die within ${KILL_TIMEOUT_MS / 1000}s of SIGKILL`);
      }
    }
    cgroups.destroy();
    store.remove(id);
    try {
      runHooks('poststop', record.hooks?.poststop, ociState(record, 'stopped'));
    } catch (err) {
      warn((err as Error).message);
    }
  } finally {
    release();
  }
}
