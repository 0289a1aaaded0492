// `kill`: a signal to the init, or with --all to every process in the container's cgroup.
import { kill } from '../../linux/process.js';
import { loadCgroupManager } from '../cgroups/index.js';
import { RuntimeError } from '../runtime-error.js';
import { containerStatus } from '../state/status.js';
import type { StateStore } from '../state/store.js';

export function killContainer(store: StateStore, id: string, signal: number, all: boolean): void {
  const record = store.read(id);
  const status = containerStatus(store, record);
  if (status === 'stopped') throw new RuntimeError('container not running');
  const cgroups = loadCgroupManager(record.cgroups);
  const targets = all ? cgroups.pids() : [record.pid];
  for (const pid of targets) {
    try {
      kill(pid, signal);
    } catch (err) {
      if (!all) throw err;
    }
  }
  // A frozen task keeps SIGKILL pending until thawed.
  if (signal === 9 && status === 'paused') cgroups.thaw();
}
