// Undoing what a create made, from its journal: create's own way out when it fails, and delete --force's for
// a create that never finished. Apart from create.ts, whose module graph (the stage launcher, the spec loader,
// node:child_process) cost every `delete` ~20 ms of CPU to load.
import { loadCgroupManager } from '../cgroups/index.js';
import { killHookGroup } from '../hooks/oci-hooks.js';
import { RuntimeError } from '../runtime-error.js';
import { isAlive } from '../../linux/proc.js';
import type { CreateJournal, StateStore } from '../state/store.js';

/**
 * Undoes what a create's journal names, in the order that lets each step succeed: the stage and any hook
 * still running are killed (each only if it is still the same process: pid and start time), the cgroups the
 * create made are emptied and removed (never one that was there before), then the state directory goes.
 * If a cgroup cannot be removed, the state directory stays, journal included, so delete --force can try again.
 */
export function undoCreate(store: StateStore, id: string, journal: CreateJournal | undefined): void {
  const stage = journal?.stage;
  if (stage && isAlive(stage.pid, stage.startTime)) {
    try {
      process.kill(stage.pid, 'SIGKILL');
    } catch {
      // Exited meanwhile.
    }
  }
  for (const hook of journal?.hooks ?? []) killHookGroup(hook);
  if (journal?.cgroups) {
    try {
      loadCgroupManager(journal.cgroups).destroy({ kill: true });
    } catch (err) {
      throw new RuntimeError(`${(err as Error).message}; the state of container ${id} is kept, and delete --force tries again`);
    }
  }
  store.remove(id);
}
