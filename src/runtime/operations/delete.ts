// `delete`: removes a stopped container's cgroups and state; --force first kills a live one, and undoes
// whatever a create that never finished left behind (from its journal).
import { loadCgroupManager } from '../cgroups/index.js';
import { undoCreate } from './undo-create.js';
import { RuntimeError } from '../runtime-error.js';
import { runHooks } from '../hooks/oci-hooks.js';
import { waitForExit } from '../../linux/proc.js';
import { containerStatus, ociState } from '../state/status.js';
import type { StateRecord, StateStore } from '../state/store.js';
import type { Warn } from './start.js';

const KILL_TIMEOUT_MS = 10_000;

export function deleteContainer(store: StateStore, id: string, force: boolean, warn: Warn): void {
  // entry() checks the id before anything becomes a path.
  const entry = store.entry(id);
  if (entry === 'none') {
    if (force) return; // gone already: another delete, or it never existed
    throw new RuntimeError(`container does not exist: ${id}`);
  }
  if (entry === 'foreign' && force) {
    store.remove(id); // the entry itself (a symlink: never what it points to)
    return;
  }
  let release: () => void;
  try {
    release = store.lock(id);
  } catch (err) {
    // Removed by another delete while we waited for the lock.
    if (force && store.entry(id) === 'none') return;
    throw err;
  }
  try {
    if (!store.exists(id)) {
      // A create that did not finish (killed, or failed and could not undo all of it): its journal says what it made.
      const journal = store.readJournal(id);
      if (!force) {
        if (!journal) throw new RuntimeError(`container does not exist: ${id}`);
        throw new RuntimeError(`container ${id} was never completely created (its create was interrupted); delete --force undoes what that create made`);
      }
      undoCreate(store, id, journal);
      return;
    }
    let record: StateRecord;
    try {
      record = store.read(id);
    } catch (err) {
      if (!force) throw err;
      warn(`${(err as Error).message}: undoing what its create made instead`);
      undoCreate(store, id, store.readJournal(id));
      return;
    }
    removeContainer(store, record, force, warn);
  } finally {
    release();
  }
}

function removeContainer(store: StateStore, record: StateRecord, force: boolean, warn: Warn): void {
  const { id } = record;
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
}
