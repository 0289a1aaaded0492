// The cgroup layer of tslab's OCI runtime: v1, v2 and hybrid machines behind one interface.
//
//   const cg = newCgroupManager({ id, cgroupsPath: spec.linux?.cgroupsPath });
//   cg.create(); cg.apply(spec.linux?.resources); cg.addProcess(pid);
//   saveState({ cgroups: cg.toJSON() });   ...later...   loadCgroupManager(state.cgroups).destroy();

export { CgroupError, hintFor } from './cgroup-error.js';
export type { CgroupErrorDetails } from './cgroup-error.js';
export { detectCgroupMode, parseMountinfo, parseProcCgroup, ownCgroupIn } from './detect.js';
export type { CgroupLayout, CgroupMode, CgroupMount, MountinfoEntry, ProcCgroupEntry } from './detect.js';
export { resolveCgroupPaths, cleanCgroupSegments, isSystemdCgroupsPath, managedHierarchies } from './cgroup-paths.js';
export type { HierarchyPath, ResolveOptions } from './cgroup-paths.js';
export {
  DEFAULT_ALLOWED_DEVICES,
  DEVICE_FILTER_LICENSE,
  bpfDeviceFilterInstaller,
  canEnforceDeviceRules,
  deviceRuleString,
  effectiveDeviceRules,
  v1DeviceWrites,
} from './devices.js';
export type { DeviceFilterInstaller } from './devices.js';
export {
  BPF_DEVCG_ACC_MKNOD,
  BPF_DEVCG_ACC_READ,
  BPF_DEVCG_ACC_WRITE,
  BPF_DEVCG_DEV_BLOCK,
  BPF_DEVCG_DEV_CHAR,
  decodeInsns,
  deviceFilterInsns,
  deviceFilterProgram,
  disassembleDeviceFilter,
  encodeInsns,
} from './device-filter.js';
export type { BpfInsn } from './device-filter.js';
export { planV1, planV1Memory, planV1Cpu, planCpuset, planPids, pidsMaxValue, kernelMemoryWarning } from './v1.js';
export { planV1Blkio, planV2Io, blkioWeightToIoWeight } from './blkio.js';
export { planHugetlb } from './hugetlb.js';
export { planNetworkClasses } from './net-classes.js';
export { planRdma } from './rdma.js';
export type { V1MemoryContext } from './v1.js';
export type { CgroupWrite } from './write.js';
export {
  planV2,
  planV2Memory,
  planV2Cpu,
  planUnified,
  cpuSharesToWeight,
  cpuMaxValue,
  swapMaxValue,
  v2Number,
  controllersNeeded,
  v2DeviceFilter,
} from './v2.js';
export { newCgroupManager, loadCgroupManager } from './manager.js';
export type { ApplyOptions, CgroupManager, DestroyOptions, NewCgroupManagerOptions, SavedCgroups } from './manager.js';
export { readStats, parseCpuList } from './stats.js';
export type { ContainerStats } from './stats.js';
export { realCgroupFs } from './cgroup-fs.js';
export type { CgroupFs } from './cgroup-fs.js';
