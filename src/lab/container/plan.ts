// What the lesson container launcher is asked to build. Each lesson switches on one more kernel feature;
// a container at level N has the features of lessons 1..N.
import type { VethPlan } from '../../net/veth.js';

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
  /** Cgroup directories (already created, limits set) the container's process joins. */
  cgroupDirs: string[];
  veth?: VethPlan;
  /** Capability numbers kept in the bounding set from lesson 8 on. */
  keepCapabilities: number[];
}

/** What the launcher prints (one JSON line) when it is done. */
export type LaunchResult = { ok: true; pid: number } | { ok: false; error: string; notWrittenYet?: { lesson: number; fn: string; file: string } };

/** The lesson container's program: a shell that waits forever and leaves quietly on SIGTERM. */
export const IDLE_PROGRAM = ['/bin/sh', '-c', "trap 'exit 0' TERM; while :; do sleep 3600 & wait $!; done"];
