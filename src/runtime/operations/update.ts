// `update`: change the limits of a created, running or paused container, as runc's update does.
//
// The changes come either from a LinuxResources JSON document (`--resources FILE`, `-` for stdin: then the flags
// are ignored, as in runc) or from runc's flags. Both go through config.json's own reader and checks
// (parseResources), so a value update accepts is one create would have accepted. Only what is given is written;
// device rules are never changed (runc's update cannot change them either).

import * as fs from 'node:fs';
import { loadCgroupManager, kernelMemoryWarning } from '../cgroups/index.js';
import { RuntimeError, fileError } from '../runtime-error.js';
import { sleepSync } from '../../linux/proc.js';
import { MAX_CONFIG_BYTES, parseResources } from '../spec/load.js';
import type { Resources } from '../spec/types.js';
import { containerStatus } from '../state/status.js';
import type { StateStore } from '../state/store.js';

/** runc's update flags that take a value, as given on the command line. */
export type UpdateFlag =
  | 'blkio-weight' | 'cpu-period' | 'cpu-quota' | 'cpu-share' | 'cpu-rt-period' | 'cpu-rt-runtime' | 'cpuset-cpus'
  | 'cpuset-mems' | 'kernel-memory' | 'kernel-memory-tcp' | 'memory' | 'memory-reservation' | 'memory-swap'
  | 'pids-limit' | 'l3-cache-schema' | 'mem-bw-schema';

export interface UpdateOptions {
  /** `--resources`: a file, or "-" for standard input. When given, the flags are ignored (runc). */
  resourcesFile?: string | undefined;
  flags: Partial<Record<UpdateFlag, string>>;
  warn: (message: string) => void;
}

const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/**
 * A memory size as runc reads it (go-units RAMInBytes): a number, optionally with a binary unit, "64M", "1.5g",
 * "512 KiB", "100mb"; "-1" is "no limit".
 */
function parseMemorySize(flag: string, value: string): number {
  if (value === '-1') return -1;
  const m = /^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$/.exec(value);
  const bytes = m ? Math.trunc(Number(m[1]) * UNITS[(m[2] ?? '').toLowerCase()]!) : NaN;
  if (!Number.isSafeInteger(bytes)) {
    throw new RuntimeError(`invalid value for ${flag}: invalid size: '${value}' (a byte count with an optional unit, like 64M or 1G, or -1 for no limit)`);
  }
  return bytes;
}

function parseInteger(flag: string, value: string, unsigned: boolean): number {
  const ok = unsigned ? /^\d+$/.test(value) : /^-?\d+$/.test(value);
  const n = Number(value);
  if (!ok || !Number.isSafeInteger(n)) {
    throw new RuntimeError(`invalid value for ${flag}: "${value}" is not ${unsigned ? 'a non-negative' : 'an'} integer`);
  }
  return n;
}

/** runc's flags as a LinuxResources document; 0 and "" mean "not given", as in runc. */
function resourcesFromFlags(flags: UpdateOptions['flags'], warn: (m: string) => void): Record<string, unknown> {
  if (flags['l3-cache-schema'] || flags['mem-bw-schema']) {
    throw new RuntimeError('Intel RDT (--l3-cache-schema, --mem-bw-schema) is not supported by tslab-runtime');
  }
  for (const flag of ['kernel-memory', 'kernel-memory-tcp'] as const) {
    if (flags[flag]) warn(`Setting --${flag} is ignored and will be removed`);
  }
  const memory: Record<string, number> = {};
  const cpu: Record<string, number | string> = {};
  const r: Record<string, unknown> = {};
  const memoryFlags = [['memory', 'limit'], ['memory-swap', 'swap'], ['memory-reservation', 'reservation']] as const;
  for (const [flag, field] of memoryFlags) {
    const v = flags[flag];
    if (v) memory[field] = parseMemorySize(flag, v);
  }
  const cpuFlags = [
    ['cpu-share', 'shares', true],
    ['cpu-period', 'period', true],
    ['cpu-quota', 'quota', false],
    ['cpu-rt-period', 'realtimePeriod', true],
    ['cpu-rt-runtime', 'realtimeRuntime', false],
  ] as const;
  for (const [flag, field, unsigned] of cpuFlags) {
    const v = flags[flag];
    if (v) cpu[field] = parseInteger(flag, v, unsigned);
  }
  if (flags['cpuset-cpus']) cpu.cpus = flags['cpuset-cpus'];
  if (flags['cpuset-mems']) cpu.mems = flags['cpuset-mems'];
  if (Object.keys(memory).length > 0) r.memory = memory;
  if (Object.keys(cpu).length > 0) r.cpu = cpu;
  const weight = flags['blkio-weight'] ? parseInteger('blkio-weight', flags['blkio-weight'], true) : 0;
  if (weight !== 0) r.blockIO = { weight };
  const pids = flags['pids-limit'] ? parseInteger('pids-limit', flags['pids-limit'], false) : 0;
  if (pids !== 0) r.pids = { limit: pids };
  return r;
}

/** The document `--resources` names: standard input or a regular file, at most as large as a config.json may be. */
function readResourcesText(file: string): string {
  let fd = 0;
  if (file !== '-') {
    try {
      fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
    } catch (err) {
      throw fileError('open the resources file', file, err);
    }
  }
  try {
    if (file !== '-' && !fs.fstatSync(fd).isFile()) throw new RuntimeError(`${file} is not a regular file: --resources takes a JSON file (or "-" for standard input)`);
    const chunks: Buffer[] = [];
    let total = 0;
    const buf = Buffer.alloc(64 * 1024);
    for (;;) {
      let n: number;
      try {
        n = fs.readSync(fd, buf, 0, buf.length, null);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
          sleepSync(5); // stdin is a non-blocking pipe with nothing in it yet
          continue;
        }
        throw fileError('read the resources', file === '-' ? 'standard input' : file, err);
      }
      if (n === 0) break;
      total += n;
      if (total > MAX_CONFIG_BYTES) throw new RuntimeError(`the resources document (${file === '-' ? 'standard input' : file}) is larger than ${MAX_CONFIG_BYTES} bytes`);
      chunks.push(Buffer.from(buf.subarray(0, n)));
    }
    return Buffer.concat(chunks).toString('utf8');
  } finally {
    if (file !== '-') fs.closeSync(fd);
  }
}

/** What an update asks for, read and checked as config.json's linux.resources is. */
function updateRequest(opts: UpdateOptions): Resources {
  const changes = opts.resourcesFile !== undefined
    ? parseResources(readResourcesText(opts.resourcesFile), opts.resourcesFile === '-' ? 'standard input' : opts.resourcesFile)
    : parseResources(JSON.stringify(resourcesFromFlags(opts.flags, opts.warn)), 'the update flags');
  if ((changes.devices ?? []).length > 0) {
    opts.warn('linux.resources.devices not changed: update leaves a container\'s device rules as they are (as runc\'s does)');
    delete changes.devices;
  }
  // pids.limit 0 means "not given" to runc's update (runc 1.1 writes no pids.max for it).
  if (changes.pids?.limit === 0) delete changes.pids;
  const kernelMemory = kernelMemoryWarning(changes);
  if (kernelMemory) opts.warn(kernelMemory);
  return changes;
}

export function updateContainer(store: StateStore, id: string, opts: UpdateOptions): void {
  const release = store.lock(id);
  try {
    const record = store.read(id);
    const status = containerStatus(store, record);
    if (status === 'stopped') throw new RuntimeError('container not running');
    loadCgroupManager(record.cgroups).update(updateRequest(opts));
  } finally {
    release();
  }
}
