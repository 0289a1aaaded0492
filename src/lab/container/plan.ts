// What the lesson container launcher is asked to build: the kernel features switched on, one per lesson.
// lessons/lessons.json gives each feature to the lesson that teaches it ("feature"); the container of lesson
// N has the features of lessons 0..N (src/lab/catalog.ts featuresThrough).

/**
 * Every feature the launcher can switch on, in the order the course introduces them: a feature may rely on
 * the ones before it (a root filesystem needs a mount namespace), so lessons.json gives them to lessons in
 * this order. Where in the container's start each is switched on is the launcher's business. 'process' is
 * the lesson container itself, a process of its own.
 */
export const FEATURES = ['process', 'uts', 'pid', 'mount', 'rootfs', 'network', 'cgroups', 'capabilities', 'seccomp', 'userns'] as const;

export type Feature = (typeof FEATURES)[number];

export interface LaunchPlan {
  features: Feature[];
  hostname: string;
  /** The lab's own copy of the busybox root filesystem. */
  rootfs: string;
  /** With 'rootfs': its lesson first shows chroot (and how it is escaped), then pivot_root. */
  rootSwitch: 'pivot' | 'chroot';
  /** With 'cgroups': the cgroups the learner's piece makes, limits and joins, one below each parent. */
  cgroups?: LessonCgroups;
  /** With 'network': the veth pair the learner's piece makes and addresses. */
  veth?: VethPlan;
  /** With 'capabilities': the capability numbers kept in the bounding set. */
  keepCapabilities: number[];
  /** With 'userns': the id ranges of the user namespace the init is started in, written by the learner's piece. */
  userns?: UsernsPlan;
}

export interface IdRange {
  inside: number;
  outside: number;
  count: number;
}

export interface UsernsPlan {
  uids: IdRange[];
  gids: IdRange[];
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

/** config.json's linux.seccomp, as much of it as lesson 11's piece takes (src/runtime/steps/seccomp-filter.ts). */
export interface LessonSeccompProfile {
  defaultAction: 'SCMP_ACT_ALLOW';
  syscalls: Array<{ names: string[]; action: 'SCMP_ACT_ERRNO'; errnoRet?: number }>;
}

/**
 * From lesson 11, the filter the learner's piece builds and loads: no new namespaces from inside the
 * container. The errno is ENOSYS (38), not EPERM, so an answer of the filter is told apart from the
 * capability check's (without CAP_SYS_ADMIN, setns fails with EPERM anyway; the filter answers first).
 */
export const LESSON_SECCOMP: LessonSeccompProfile = {
  defaultAction: 'SCMP_ACT_ALLOW',
  syscalls: [{ names: ['unshare', 'setns'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 }],
};

/**
 * From lesson 11 the idle shell also runs a script under its own filter on SIGUSR1: a filter is inherited
 * by children only, so a process that joins the container later (nsenter, `sh container` cells) runs
 * unfiltered. The shell runs SCRIPT as its child, then writes its output to OUT and its exit status to STATUS.
 */
export const UNDER_FILTER = { script: '/.tslab-run', out: '/.tslab-run.out', status: '/.tslab-run.status' } as const;

export const IDLE_PROGRAM_RUNNING_SCRIPTS = [
  '/bin/sh',
  '-c',
  `trap 'exit 0' TERM; trap 'sh ${UNDER_FILTER.script} >${UNDER_FILTER.out} 2>&1; echo $? >${UNDER_FILTER.status}' USR1; ` +
    'while :; do sleep 3600 & wait $!; kill $! 2>/dev/null; done',
];
