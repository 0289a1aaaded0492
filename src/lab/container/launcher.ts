// The lesson container launcher: a small program, bundled with either the reference steps or the learner's
// (see ../step-build.ts), that builds the lesson container one kernel feature per lesson and leaves its
// process running. The host side (this process) spawns the init, joins it to its cgroups and wires its
// network; the init side switches on the namespaces from inside, then execs an idle shell.
//   node launcher.cjs PLAN_JSON          prints one LaunchResult JSON line
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { CLONE_NEWNET, CLONE_NEWUTS, setns, unshare } from '../../linux/namespaces.js';
import { MS_BIND, MS_REC, MS_NOSUID, chroot, mount } from '../../linux/mount.js';
import { CLOSE_RANGE_CLOEXEC, O_CLOEXEC, O_RDONLY, O_RDWR, chdir, close, closeRange, dup2, open, setCloexec } from '../../linux/fs.js';
import { execve, resetSignals, sethostname } from '../../linux/process.js';
import { newUtsNamespace, setHostname } from '../../runtime/steps/hostname.js';
import { spawnInNewPidNamespace } from '../../runtime/steps/pid-namespace.js';
import { makeMountsPrivate, mountProc, newMountNamespace } from '../../runtime/steps/mount-namespace.js';
import { pivotInto } from '../../runtime/steps/pivot-root.js';
import { bringUpInterface } from '../../runtime/steps/loopback.js';
import { joinCgroup } from '../../runtime/steps/cgroup-join.js';
import { dropBoundingSet, setNoNewPrivs } from '../../runtime/steps/capabilities.js';
import { buildFilter, loadFilter } from '../../runtime/steps/seccomp-filter.js';
import { capget, capset } from '../../linux/capabilities.js';
import { SyscallError } from '../../linux/error.js';
import { makeCgroups, wireVeth } from './host-side.js';
import { IDLE_PROGRAM, IDLE_PROGRAM_RUNNING_SCRIPTS, LESSON_SECCOMP, type Feature, type LaunchPlan, type LaunchResult } from './plan.js';

const DEVICES = ['null', 'zero', 'full', 'random', 'urandom', 'tty'];

function on(plan: LaunchPlan, feature: Feature): boolean {
  return plan.features.includes(feature);
}

function failure(err: unknown): LaunchResult {
  const e = err as Error & { lesson?: number; fn?: string; file?: string };
  const message = err instanceof Error ? err.message : String(err);
  if (e?.name === 'NotWrittenYet' && e.lesson !== undefined && e.fn && e.file) {
    return { ok: false, error: message, notWrittenYet: { lesson: e.lesson, fn: e.fn, file: e.file } };
  }
  return { ok: false, error: message };
}

/** A minimal /dev for the new root: the host's harmless character devices bound onto empty files. */
function populateDev(rootfs: string): void {
  const dev = path.join(rootfs, 'dev');
  mount('tmpfs', dev, 'tmpfs', MS_NOSUID, 'mode=755,size=64k');
  for (const name of DEVICES) {
    fs.writeFileSync(path.join(dev, name), '');
    mount(`/dev/${name}`, path.join(dev, name), null, MS_BIND);
  }
}

function switchRoot(plan: LaunchPlan): void {
  mount(plan.rootfs, plan.rootfs, null, MS_BIND | MS_REC);
  mountProc(path.join(plan.rootfs, 'proc'));
  populateDev(plan.rootfs);
  if (plan.rootSwitch === 'chroot') {
    chdir(plan.rootfs);
    chroot('.');
    chdir('/');
  } else {
    pivotInto(plan.rootfs);
  }
}

/**
 * A safety net under the learner's makeMountsPrivate(): while any mount still propagates to the host, a
 * /proc mounted now would cover the host's own /proc.
 */
function refuseSharedMounts(): void {
  const shared = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((line) => / shared:\d+/.test(line.split(' - ')[0]));
  if (shared.length) {
    throw new Error(
      `after makeMountsPrivate() ${shared.length} mount(s) still propagate to the host (e.g. ${shared[0].split(' ')[4]}); ` +
        'stopping before /proc is mounted there. Make "/" private recursively: MS_REC | MS_PRIVATE',
    );
  }
}

/** The calling thread's namespace of `type`, as its /proc link reads ("uts:[4026531838]"). */
function threadNamespace(type: 'uts' | 'mnt'): string {
  return fs.readlinkSync(`/proc/thread-self/ns/${type}`);
}

/**
 * The lab's guard after the learner's unshare step: the init starts in the host's UTS and mount namespaces,
 * so if the step left it there, the next steps (sethostname, mount) would change the host itself.
 */
function requireNewNamespace(type: 'uts' | 'mnt', host: string, step: string, flag: string, next: string): void {
  if (threadNamespace(type) !== host) return;
  throw new Error(
    `after ${step}() the container init is still in the host's ${type} namespace (${host}): ${step}() must call unshare(${flag}). ` +
      `Stopping before ${next}, which would have changed the host itself`,
  );
}

/**
 * Enters a UTS namespace through the learner's newUtsNamespace and names it with their setHostname. A
 * newUtsNamespace that calls sethostname itself, before unshare or without it, renames the host (a copy made
 * after that inherits the new name): the host gets its name back, through an fd of its namespace opened
 * beforehand, and the launch fails.
 */
function enterUtsNamespace(hostname: string): void {
  const hostNs = threadNamespace('uts');
  const hostName = os.hostname();
  const hostFd = open('/proc/thread-self/ns/uts', O_RDONLY | O_CLOEXEC);
  try {
    newUtsNamespace();
    const seen = os.hostname();
    if (seen !== hostName) {
      setns(hostFd, CLONE_NEWUTS);
      sethostname(hostName);
      throw new Error(
        `newUtsNamespace() renamed the host to "${seen}" (the lab set it back to "${hostName}"): newUtsNamespace() only calls ` +
          'unshare(CLONE_NEWUTS); sethostname belongs in setHostname, which the lab calls after it',
      );
    }
    requireNewNamespace('uts', hostNs, 'newUtsNamespace', 'CLONE_NEWUTS', 'setHostname');
  } finally {
    close(hostFd);
  }
  setHostname(hostname);
}

/** A failure of the lab's own work under a filter that buildFilter() already loaded. */
function filteredTooEarly(err: unknown): Error {
  const message = err instanceof Error ? err.message : String(err);
  return new Error(
    `${message}. The seccomp filter was already in the kernel when buildFilter() returned (one more Seccomp_filters in /proc/thread-self/status), ` +
      "so the lab's own work after it (unshare for the namespaces, mounts, pivot_root...) ran filtered: buildFilter() only builds, " +
      'loadFilter() loads it, as late as possible',
  );
}

function say(message: object): void {
  fs.writeSync(1, `${JSON.stringify(message)}\n`);
}

function waitForGo(): void {
  const buf = Buffer.alloc(3);
  if (fs.readSync(0, buf) === 0) process.exit(1); // the launcher went away: give up quietly
}

/** How many seccomp filters the calling thread has (/proc/thread-self/status); the lab itself may run under some. */
function threadSeccompFilters(): number {
  const line = fs.readFileSync('/proc/thread-self/status', 'utf8').split('\n').find((l) => l.startsWith('Seccomp_filters:'));
  return Number(line?.split(/\s+/)[1] ?? 0);
}

/**
 * What the runtime does before a no_new_privs filter goes in, as runc does: the init takes on the
 * container's capabilities (the kept ones, effective and permitted), so it no longer has CAP_SYS_ADMIN.
 */
function keepOnlyCapabilities(keep: number[]): void {
  const mask = keep.reduce((m, cap) => m | (1n << BigInt(cap)), 0n);
  capset({ effective: mask, permitted: mask, inheritable: capget().inheritable & mask });
}

/** The learner's loadFilter, once the init has lost CAP_SYS_ADMIN: the kernel then wants no_new_privs. */
function loadWithoutSysAdmin(filter: ReturnType<typeof buildFilter>): void {
  try {
    loadFilter(filter);
  } catch (err) {
    if (!(err instanceof SyscallError && err.syscall === 'seccomp_load' && err.code === 'EACCES')) throw err;
    throw new Error(
      `${err.message}. The init has only the container's capabilities by now (no CAP_SYS_ADMIN): loadFilter() sets no_new_privs, ` +
        'prctl(PR_SET_NO_NEW_PRIVS, 1), before filter.load()',
    );
  }
}

/** Runs as the container's first process, already in its PID namespace from lesson 3 on. */
function init(plan: LaunchPlan): void {
  let filteredEarly = false;
  try {
    const devNull = open('/dev/null', O_RDWR);
    // Built first, while the host's files (libseccomp) are visible; loaded at the end.
    const filtersBefore = threadSeccompFilters();
    const filter = on(plan, 'seccomp') ? buildFilter(LESSON_SECCOMP) : undefined;
    filteredEarly = filter !== undefined && threadSeccompFilters() > filtersBefore;
    if (on(plan, 'uts')) {
      enterUtsNamespace(plan.hostname);
    }
    if (on(plan, 'mount')) {
      const hostMounts = threadNamespace('mnt');
      newMountNamespace();
      requireNewNamespace('mnt', hostMounts, 'newMountNamespace', 'CLONE_NEWNS', 'makeMountsPrivate');
      makeMountsPrivate();
      refuseSharedMounts();
      if (on(plan, 'rootfs')) switchRoot(plan);
      else mountProc('/proc');
    }
    if (on(plan, 'network')) {
      unshare(CLONE_NEWNET);
      bringUpInterface('lo');
    }
    say({ ready: true });
    waitForGo();
    if (on(plan, 'capabilities')) {
      dropBoundingSet(plan.keepCapabilities);
      if (filter) {
        // From lesson 11, loadFilter sets no_new_privs itself, right before the load that needs it.
        keepOnlyCapabilities(plan.keepCapabilities);
        loadWithoutSysAdmin(filter);
      } else {
        setNoNewPrivs();
      }
    }
    say({ exec: true });
    for (const fd of [0, 1, 2]) {
      dup2(devNull, fd);
      setCloexec(fd, false);
    }
    closeRange(3, 0xffffffff, CLOSE_RANGE_CLOEXEC);
    resetSignals();
    const program = on(plan, 'seccomp') ? IDLE_PROGRAM_RUNNING_SCRIPTS : IDLE_PROGRAM;
    execve(program[0], program, ['PATH=/usr/sbin:/usr/bin:/sbin:/bin', `HOSTNAME=${plan.hostname}`]);
  } catch (err) {
    try {
      say({ error: failure(filteredEarly ? filteredTooEarly(err) : err) });
    } catch {
      // stdout already points at /dev/null: the launcher sees the pipe close without "exec".
    }
    process.exit(1);
  }
}

async function launch(plan: LaunchPlan): Promise<LaunchResult> {
  // Made and limited before the init exists, joined once it is ready: it never runs in them unlimited.
  const cgroupDirs = plan.cgroups ? makeCgroups(plan.cgroups) : [];
  const spawnInit = () =>
    spawn(process.execPath, [process.argv[1], 'init', JSON.stringify(plan)], { stdio: ['pipe', 'pipe', 'inherit'], detached: true });
  const child = on(plan, 'pid') ? spawnInNewPidNamespace(spawnInit) : spawnInit();
  const exitSignal = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  const lines = readline.createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async (): Promise<Record<string, unknown>> => {
    const { value, done } = await lines.next();
    return done ? {} : (JSON.parse(value) as Record<string, unknown>);
  };
  try {
    const ready = await next();
    if (!ready.ready) throw (ready.error as LaunchResult) ?? new Error('the container init exited before it was ready');
    for (const dir of cgroupDirs) joinCgroup(dir, child.pid!);
    if (plan.veth) wireVeth(plan.veth, child.pid!);
    child.stdin!.write('go\n');
    const execed = await next();
    if (!execed.exec) throw (execed.error as LaunchResult) ?? new Error(await silentDeath(exitSignal));
    child.unref();
    return { ok: true, pid: child.pid! };
  } catch (err) {
    child.kill('SIGKILL');
    if (err && typeof err === 'object' && 'ok' in err) return err as LaunchResult;
    return failure(err);
  }
}

/** Why the init died without a word, from how it died. */
async function silentDeath(exitSignal: Promise<NodeJS.Signals | null>): Promise<string> {
  const signal = await Promise.race([exitSignal, new Promise<null>((resolve) => setTimeout(() => resolve(null), 2000))]);
  if (signal !== 'SIGSYS') return 'the container init exited before it ran its program';
  return (
    'the container init was killed by SIGSYS before it ran its program: a seccomp filter kills a system call no rule ' +
    "allows when its default action is SCMP_ACT_KILL_PROCESS (the lab's next call after loadFilter() was a write). " +
    "The lesson's profile blocks only unshare and setns: its defaultAction is SCMP_ACT_ALLOW"
  );
}

async function main(): Promise<void> {
  const [mode, planJson] = process.argv.slice(2);
  if (mode === 'init') return init(JSON.parse(planJson) as LaunchPlan);
  let result: LaunchResult;
  try {
    result = await launch(JSON.parse(mode) as LaunchPlan);
  } catch (err) {
    result = failure(err);
  }
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(result.ok ? 0 : 1));
}

void main();
