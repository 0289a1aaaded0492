// A container's status is read from the kernel each time, never trusted from a file alone.
import * as fs from 'node:fs';
import { loadCgroupManager } from '../cgroups/index.js';
import { isAlive } from '../../linux/proc.js';
import type { State } from '../spec/types.js';
import type { StateRecord, StateStore } from './store.js';

export type Status = State['status'];

export function containerStatus(store: StateStore, record: StateRecord): Status {
  if (!isAlive(record.pid, record.pidStartTime)) return 'stopped';
  if (fs.existsSync(store.fifoPath(record.id))) return 'created';
  if (loadCgroupManager(record.cgroups).isFrozen()) return 'paused';
  return 'running';
}

/** The OCI state document of a container (what hooks read on their stdin). */
export function ociState(record: StateRecord, status: State['status']): State {
  return {
    ociVersion: record.ociVersion,
    id: record.id,
    status,
    pid: record.pid,
    bundle: record.bundle,
    annotations: record.annotations,
  };
}

/** runc's `state` document. */
export function runcState(store: StateStore, record: StateRecord) {
  const status = containerStatus(store, record);
  return {
    ociVersion: record.ociVersion,
    id: record.id,
    pid: status === 'stopped' ? 0 : record.pid,
    status,
    bundle: record.bundle,
    rootfs: record.rootfs,
    created: record.created,
    owner: record.owner,
    ...(Object.keys(record.annotations).length ? { annotations: record.annotations } : {}),
  };
}
