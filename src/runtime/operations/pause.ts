// `pause` / `resume`: the freezer of the container's cgroup.
import { loadCgroupManager } from '../cgroups/index.js';
import { RuntimeError } from '../runtime-error.js';
import { containerStatus } from '../state/status.js';
import type { StateStore } from '../state/store.js';

export function pauseContainer(store: StateStore, id: string, pause: boolean): void {
  const release = store.lock(id);
  try {
    const record = store.read(id);
    const status = containerStatus(store, record);
    const cgroups = loadCgroupManager(record.cgroups);
    if (pause) {
      if (status !== 'running') throw new RuntimeError(`container not running: ${status}`);
      cgroups.freeze();
    } else {
      if (status !== 'paused') throw new RuntimeError(`container not paused: ${status}`);
      cgroups.thaw();
    }
  } finally {
    release();
  }
}
