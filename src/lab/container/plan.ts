// What the lesson container launcher is asked to build. Each lesson switches on one more kernel feature;
// a container at level N has the features of lessons 1..N.

export const FEATURE = {
  process: 1,
  uts: 2,
  pid: 3,
  mount: 4,
  rootfs: 5,
  network: 6,
  cgroups: 7,
  capabilities: 8,
} as const;

export interface LaunchPlan {
  level: number;
  hostname: string;
  /** The lab's own copy of the busybox root filesystem. */
  rootfs: string;
  /** Lesson 5 first shows chroot (and how it is escaped), then pivot_root. */
  rootSwitch: 'pivot' | 'chroot';
  /** From lesson 7: the cgroups the learner's piece makes, limits and joins, one below each parent. */
  cgroups?: LessonCgroups;
  /** From lesson 6: the veth pair the learner's piece makes and addresses. */
  veth?: VethPlan;
  /** Capability numbers kept in the bounding set from lesson 8 on. */
  keepCapabilities: number[];
}

export interface VethPlan {
  /** Name of the host end (at most 15 bytes). */
  host: string;
  /** Name of the end inside the container's network namespace. */
  peer: string;
  hostAddress: string;
  peerAddress: string;
  prefixLength: number;
}

export interface CgroupLimits {
  memoryBytes: number;
  pids: number;
  cpuQuotaUs: number;
  cpuPeriodUs: number;
}

export interface LessonCgroups {
  /** The lab's own cgroup (tslab-lab) in each hierarchy: made by the lab, with controllers enabled for children. */
  parents: string[];
  name: string;
  limits: CgroupLimits;
}

/** What the launcher prints (one JSON line) when it is done. */
export type LaunchResult = { ok: true; pid: number } | { ok: false; error: string; notWrittenYet?: { lesson: number; fn: string; file: string } };

/** The lesson container's program: a shell that waits forever and leaves quietly on SIGTERM. */
export const IDLE_PROGRAM = ['/bin/sh', '-c', "trap 'exit 0' TERM; while :; do sleep 3600 & wait $!; done"];
