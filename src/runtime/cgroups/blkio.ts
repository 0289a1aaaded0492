// Block I/O: OCI linux.resources.blockIO -> v1 blkio files or v2 io files. Pure functions; the manager writes.
//
//   v1  blkio.weight (or blkio.bfq.weight: the kernel offers a weight only with the CFQ or BFQ I/O scheduler),
//       blkio.leaf_weight, blkio.weight_device "8:0 500", blkio.throttle.{read,write}_{bps,iops}_device "8:0 1048576"
//   v2  io.bfq.weight (same 10..1000 scale) or io.weight (1..10000), io.max "8:0 rbps=1048576"
// Values and files follow runc (libcontainer/cgroups/fs/blkio.go, fs2/io.go).

import type { BlockIO, ThrottleDevice } from '../spec/types.js';
import { CgroupError } from './cgroup-error.js';
import type { CgroupWrite } from './write.js';

const SETTING = 'linux.resources.blockIO';

const THROTTLES = [
  ['throttleReadBpsDevice', 'read_bps_device', 'rbps'],
  ['throttleWriteBpsDevice', 'write_bps_device', 'wbps'],
  ['throttleReadIOPSDevice', 'read_iops_device', 'riops'],
  ['throttleWriteIOPSDevice', 'write_iops_device', 'wiops'],
] as const;

const dev = (d: { major: number; minor: number }): string => `${d.major}:${d.minor}`;

/** v1 blkio writes. `bfq`: the cgroup has blkio.bfq.weight (the BFQ scheduler's name for the weight files). */
export function planV1Blkio(io: BlockIO | undefined, bfq: boolean): CgroupWrite[] {
  if (!io) return [];
  const w = (file: string, value: string, field: string): CgroupWrite => ({ controller: 'blkio', file, value, setting: `${SETTING}.${field}` });
  const weightFile = bfq ? 'blkio.bfq.weight' : 'blkio.weight';
  const writes: CgroupWrite[] = [];
  if (io.weight) writes.push(w(weightFile, String(io.weight), 'weight'));
  if (io.leafWeight) writes.push(w('blkio.leaf_weight', String(io.leafWeight), 'leafWeight'));
  (io.weightDevice ?? []).forEach((d, i) => {
    if (d.weight) writes.push(w(`${weightFile}_device`, `${dev(d)} ${d.weight}`, `weightDevice[${i}].weight`));
    if (d.leafWeight) writes.push(w('blkio.leaf_weight_device', `${dev(d)} ${d.leafWeight}`, `weightDevice[${i}].leafWeight`));
  });
  for (const [list, file] of THROTTLES) {
    (io[list] ?? []).forEach((d: ThrottleDevice, i) => writes.push(w(`blkio.throttle.${file}`, `${dev(d)} ${d.rate}`, `${list}[${i}]`)));
  }
  return writes;
}

/** blkio weight (10..1000) -> io.weight (1..10000), runc's linear map (cgroups.ConvertBlkIOToIOWeightValue). */
export function blkioWeightToIoWeight(weight: number): number {
  return 1 + Math.floor(((weight - 10) * 9999) / 990);
}

/** v2 io writes. `bfq`: the cgroup has io.bfq.weight, which takes blkio's scale unconverted. */
export function planV2Io(io: BlockIO | undefined, bfq: boolean): CgroupWrite[] {
  if (!io) return [];
  if (io.leafWeight || (io.weightDevice ?? []).some((d) => d.leafWeight)) {
    throw new CgroupError(`${SETTING}.leafWeight cannot be applied: cgroup v2 has no leaf weight (it was a cgroup v1 CFQ feature); remove it`);
  }
  const w = (file: string, value: string, field: string): CgroupWrite => ({ controller: 'io', file, value, setting: `${SETTING}.${field}` });
  const weightFile = bfq ? 'io.bfq.weight' : 'io.weight';
  const scale = (n: number): number => (bfq ? n : blkioWeightToIoWeight(n));
  const writes: CgroupWrite[] = [];
  if (io.weight) writes.push(w(weightFile, String(scale(io.weight)), 'weight'));
  (io.weightDevice ?? []).forEach((d, i) => {
    if (d.weight) writes.push(w(weightFile, `${dev(d)} ${scale(d.weight)}`, `weightDevice[${i}].weight`));
  });
  for (const [list, , key] of THROTTLES) {
    // A rate of 0 means "no limit" in v1; io.max spells that "max".
    (io[list] ?? []).forEach((d: ThrottleDevice, i) =>
      writes.push(w('io.max', `${dev(d)} ${key}=${d.rate === 0 ? 'max' : d.rate}`, `${list}[${i}]`)),
    );
  }
  return writes;
}
