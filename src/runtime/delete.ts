// `delete`: removes a stopped container's cgroups and state; --force first kills a live one.
import { loadCgroupManager } from './cgroups/index.js';
import { ociState } from './create.js';
import { RuntimeError } from './errors.js';
import { runHooks } from './hooks.js';
import { waitForExit } from './proc.js';
import { containerStatus } from './status.js';
import type { StateStore } from './state.js';
import type { Warn } from './start.js';

const KILL_TIMEOUT_MS = 10_000;

export function deleteContainer(store: StateStore, id: string, force: boolean, warn: Warn): void {
  if (force && !store.exists(id)) {
    store.remove(id);
    return;
  }
  const release = store.lock(id);
  try {
    const record = store.read(id);
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
