// `ps`: the host pids of a container's processes, as its cgroups list them.
import type { StateStore } from '../state/store.js';
import { loadCgroupManager } from '../cgroups/index.js';

export function containerPids(store: StateStore, id: string): number[] {
  return loadCgroupManager(store.read(id).cgroups).pids();
}
