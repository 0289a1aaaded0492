// A container of `tslab run`, as saved in <data>/containers/<id>/record.json. The record is the engine's
// memory; whether the process still runs is always read from the kernel.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ContainerNetwork } from '../net/container-net.js';
import type { PortMapping } from '../net/port-proxy.js';
import { isAlive } from '../linux/proc.js';
import { fileStep } from './file-step.js';
import { containerDir, containersDir } from './engine-paths.js';

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

/** A name or id given to a tslab command that cannot name a container (and must not reach a path). */
export class InvalidContainerNameError extends Error {}

/** docker's rule for container names; ids (64 hex digits) and their prefixes fit it too. */
const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const ID_RE = /^[0-9a-f]{64}$/;

export function checkContainerName(name: string, what = 'container name'): void {
  if (!NAME_RE.test(name)) {
    throw new InvalidContainerNameError(`invalid ${what} ${JSON.stringify(name)}: it must be 2 or more of [a-zA-Z0-9_.-], starting with a letter or digit`);
  }
}

/** Ids are made by newContainerId; anything else (from a path or a tampered record) is refused before a path is built from it. */
function checkId(id: string): void {
  if (!ID_RE.test(id)) throw new InvalidContainerNameError(`invalid container id ${JSON.stringify(id)}: an id is 64 hex digits`);
}

export function newContainerId(): string {
  return randomBytes(32).toString('hex');
}

function recordFile(id: string): string {
  checkId(id);
  return path.join(containerDir(id), 'record.json');
}

export function saveRecord(record: ContainerRecord): void {
  const file = recordFile(record.id);
  fileStep('saving the container record', file, () => {
    fs.writeFileSync(`${file}.tmp`, JSON.stringify(record, null, 2));
    fs.renameSync(`${file}.tmp`, file);
  });
}

export function loadRecord(id: string): ContainerRecord {
  const file = recordFile(id);
  const record = fileStep('reading the container record', file, () => JSON.parse(fs.readFileSync(file, 'utf8')) as ContainerRecord);
  if (record.id !== id) throw new InvalidContainerNameError(`the container record ${file} names another id (${JSON.stringify(record.id)}): not using it`);
  return record;
}

export function listRecords(): ContainerRecord[] {
  let ids: string[] = [];
  try {
    ids = fs.readdirSync(containersDir());
  } catch {
    return [];
  }
  return ids.flatMap((id) => {
    if (!ID_RE.test(id)) return [];
    try {
      return [refreshStatus(loadRecord(id))];
    } catch {
      return [];
    }
  });
}

/** Why a container is shown as exited with no status: the monitor that would have recorded its end is gone. */
function lostMonitorNote(monitorPid: number): string {
  return `its monitor (pid ${monitorPid}) died before recording the container's end: the exit status is unknown`;
}

/**
 * The status as the kernel says it is. A record still "created" or "running" whose monitor has died was left
 * by a monitor that was killed (or crashed): nobody can record its exit status any more, so it is shown as
 * exited, status unknown (whatever of it is still alive, `tslab stop` or `rm` ends and releases).
 */
export function refreshStatus(record: ContainerRecord): ContainerRecord {
  if (record.status === 'exited') return record;
  if (record.monitor) {
    if (isAlive(record.monitor.pid, record.monitor.startTime)) return record;
    return { ...record, status: 'exited', exitCode: undefined, error: record.error ?? lostMonitorNote(record.monitor.pid), finishedAt: record.finishedAt ?? new Date().toISOString() };
  }
  if (record.status !== 'running' || record.pid === undefined || record.pidStartTime === undefined) return record;
  if (isAlive(record.pid, record.pidStartTime)) return record;
  return { ...record, status: 'exited', finishedAt: record.finishedAt ?? new Date().toISOString() };
}

/** Finds a container by name, full id or unique id prefix, as docker does. */
export function findRecord(nameOrId: string): ContainerRecord {
  checkContainerName(nameOrId, 'container name or id');
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
