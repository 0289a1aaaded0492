// A container of `tslab run`, as saved in <data>/containers/<id>/record.json. The record is the engine's
// memory; whether the process still runs is always read from the kernel.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ContainerNetwork } from '../net/container-net.js';
import type { PortMapping } from '../net/port-proxy.js';
import { isAlive } from '../runtime/proc.js';
import { containerDir, containersDir } from './paths.js';

export type ContainerStatus = 'created' | 'running' | 'exited';

export interface ContainerRecord {
  id: string;
  name: string;
  image: string;
  imageDigest: string;
  command: string[];
  created: string;
  status: ContainerStatus;
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number;
  /** Why the container could not be created or started. */
  error?: string;
  pid?: number;
  pidStartTime?: number;
  /** The monitor process that waits for the container (the foreground tslab, or a detached one for -d). */
  monitor?: { pid: number; startTime: number };
  autoRemove: boolean;
  detached: boolean;
  /** A pty (-t), relayed by the foreground monitor. */
  tty: boolean;
  /** Path of the tslab-runtime executable this container was made with. */
  runtime: string;
  stopSignal: string;
  network: ContainerNetwork;
  ports: PortMapping[];
  proxies: Array<{ pid: number; startTime: number }>;
  bundle: string;
  rootfs: string;
  logFile: string;
}

export class NoSuchContainerError extends Error {}

export function newContainerId(): string {
  return randomBytes(32).toString('hex');
}

export function recordFile(id: string): string {
  return path.join(containerDir(id), 'record.json');
}

export function saveRecord(record: ContainerRecord): void {
  const file = recordFile(record.id);
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(record, null, 2));
  fs.renameSync(`${file}.tmp`, file);
}

export function loadRecord(id: string): ContainerRecord {
  return JSON.parse(fs.readFileSync(recordFile(id), 'utf8')) as ContainerRecord;
}

export function listRecords(): ContainerRecord[] {
  let ids: string[] = [];
  try {
    ids = fs.readdirSync(containersDir());
  } catch {
    return [];
  }
  return ids.flatMap((id) => {
    try {
      return [refreshStatus(loadRecord(id))];
    } catch {
      return [];
    }
  });
}

/** A running record whose process and monitor are both gone died unobserved (a crash): it has exited. */
export function refreshStatus(record: ContainerRecord): ContainerRecord {
  if (record.status !== 'running' || record.pid === undefined || record.pidStartTime === undefined) return record;
  const alive = isAlive(record.pid, record.pidStartTime);
  const monitorAlive = record.monitor ? isAlive(record.monitor.pid, record.monitor.startTime) : false;
  if (alive || monitorAlive) return record;
  return { ...record, status: 'exited', finishedAt: record.finishedAt ?? new Date().toISOString() };
}

/** Finds a container by name, full id or unique id prefix, as docker does. */
export function findRecord(nameOrId: string): ContainerRecord {
  const all = listRecords();
  const exact = all.find((r) => r.name === nameOrId || r.id === nameOrId);
  if (exact) return exact;
  const byPrefix = nameOrId.length >= 3 ? all.filter((r) => r.id.startsWith(nameOrId)) : [];
  if (byPrefix.length === 1) return byPrefix[0];
  if (byPrefix.length > 1) throw new NoSuchContainerError(`"${nameOrId}" matches ${byPrefix.length} containers: give more of the id`);
  throw new NoSuchContainerError(`no such container: ${nameOrId}`);
}

export function nameTaken(name: string): boolean {
  return listRecords().some((r) => r.name === name);
}
