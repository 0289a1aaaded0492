// The lesson container launcher: a small program, bundled with either the reference steps or the learner's
// (see ../step-build.ts), that builds the lesson container one kernel feature per lesson and leaves its
// process running. The host side (this process) spawns the init, joins it to its cgroups and wires its
// network; the init side switches on the namespaces from inside, then execs an idle shell.
//   node launcher.cjs PLAN_JSON          prints one LaunchResult JSON line
import { spawn, type ChildProcess } from 'node:child_process';
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
import { writeIdMaps } from '../../runtime/steps/id-maps.js';
import { capget, capset } from '../../linux/capabilities.js';
import { SyscallError } from '../../linux/error.js';
import { closePassage, nodeCommandFor } from '../../fs/reachable.js';
import { makeCgroups, wireVeth } from './host-side.js';
import { explainMapError, idMapProblems, mapsInside, readIdMaps } from './id-maps-readback.js';
import { IDLE_PROGRAM, IDLE_PROGRAM_RUNNING_SCRIPTS, LESSON_SECCOMP, type Feature, type LaunchPlan, type IdRange, type LaunchResult, type UsernsPlan } from './plan.js';
import { within } from '../../linux/within.js';

const DEVICES = ['null', 'zero', 'full', 'random', 'urandom', 'tty'];
const UNSHARE = '/usr/bin/unshare';
const SETPRIV = '/usr/bin/setpriv';
/**
 * Run by sh in the new user and PID namespaces (it is PID 1 there): says it exists, waits until its ids are
 * mapped, then becomes uid and gid 0 of the namespace (setpriv; its groups kept, as setgroups is denied)
 * and execs the init. `--keep-caps` keeps sh's capabilities across its exec while its uid is still unmapped,
 * as inheritable and ambient ones; setpriv clears both again: root's exec takes bounding | inheritable, and
 * the container's root should have no more than the bounding set (lesson 8) leaves it.
 */
const WAIT_FOR_MAPS = 'echo \'{"userns":true}\'; read -r _ || exit 1; exec "$@"';

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

/**
 * The rootfs by a path the container's root can walk. Root of a user namespace is, on the host, its mapped
 * uid (100000), which cannot walk the lab's path when it crosses a 0700 home directory; the init was started
 * in the rootfs, and /proc/self/cwd leads there without a walk. Bound onto a tmpfs of the container's own
 * mount namespace (the host does not see it), the rootfs has a path again.
 */
function reachableRootfs(): string {
  mount('tmpfs', '/tmp', 'tmpfs', MS_NOSUID, 'mode=700,size=64k');
  fs.mkdirSync('/tmp/rootfs');
  mount('/proc/self/cwd', '/tmp/rootfs', null, MS_BIND | MS_REC);
  return '/tmp/rootfs';
}

function switchRoot(plan: LaunchPlan): void {
  const rootfs = plan.userns ? reachableRootfs() : plan.rootfs;
  mount(rootfs, rootfs, null, MS_BIND | MS_REC);
  mountProc(path.join(rootfs, 'proc'));
  populateDev(rootfs);
  if (plan.rootSwitch === 'chroot') {
    chdir(rootfs);
    chroot('.');
    chdir('/');
  } else {
    pivotInto(rootfs);
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
  // Loaded: the fds a user namespace's root was let in by lead to the host, and go first.
  closePassage();
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

/**
 * The init in a new user namespace and a PID namespace that it owns (a /proc can only be mounted by root of
 * the user namespace that owns the PID namespace). Node has threads from its start and cannot make a user
 * namespace (unshare(CLONE_NEWUSER) is EINVAL), so util-linux unshare, single-threaded, makes both and forks
 * sh, PID 1 there, which waits for its maps; unshare stays its parent. (--kill-child kills sh with unshare only
 * until setpriv: a change of uid clears the parent-death signal.)
 * unshare keeps every fd it was given for as long as the container lives: its stderr is a pipe of ours, relayed
 * while we run, not the stderr of our caller, who waits for that to close.
 */
function spawnInitInUserNamespace(plan: LaunchPlan): ChildProcess {
  const root = (ranges: IdRange[]) => ranges.find((r) => r.inside === 0)?.outside ?? 0;
  const [uid, gid] = [root(plan.userns!.uids), root(plan.userns!.gids)];
  // Its root is a plain uid on the host, which a 0700 directory above the lab may stop: fds lead it past.
  const program = uid === 0 ? { argv: [process.execPath, process.argv[1]], fds: [], env: {} } : nodeCommandFor(process.execPath, process.argv[1], uid, gid, 3);
  const init = [SETPRIV, '--reuid=0', '--regid=0', '--keep-groups', '--inh-caps=-all', '--ambient-caps=-all', '--', ...program.argv, 'init', JSON.stringify(plan)];
  try {
    const child = spawn(UNSHARE, ['--user', '--keep-caps', '--pid', '--fork', '--kill-child', '--', '/bin/sh', '-c', WAIT_FOR_MAPS, 'sh', ...init], {
      stdio: ['pipe', 'pipe', 'pipe', ...program.fds],
      env: { ...process.env, ...program.env },
      detached: true,
      cwd: plan.rootfs,
    });
    child.stderr!.on('data', (chunk: Buffer) => fs.writeSync(2, chunk));
    return child;
  } finally {
    for (const fd of program.fds) fs.closeSync(fd);
  }
}

/** The host pid of unshare's only child: the container's PID 1. */
function childOf(pid: number): number {
  const children = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
  if (children.length !== 1 || !Number.isSafeInteger(children[0]) || children[0] <= 0) throw new Error(`unshare (pid ${pid}) has not started the container's init`);
  return children[0];
}

/**
 * The learner's writeIdMaps(), then the lab reads the maps back: without uid 0 and gid 0 in the namespace
 * the init cannot become its root. A failure is explained from its errno and what the kernel already holds.
 */
function mapIds(pid: number, userns: UsernsPlan): void {
  try {
    writeIdMaps(pid, userns.uids, userns.gids);
  } catch (err) {
    if ((err as Error)?.name === 'NotWrittenYet') throw err;
    const why = explainMapError(err, readIdMaps(pid));
    throw new Error(`writeIdMaps() failed: ${err instanceof Error ? err.message : String(err)}${why ? `. ${why}` : ''}`);
  }
  const seen = readIdMaps(pid);
  const missing = [mapsInside(seen.uid, 0) ? '' : 'uid 0', mapsInside(seen.gid, 0) ? '' : 'gid 0'].filter(Boolean);
  if (missing.length) {
    throw new Error(
      `after writeIdMaps() the container's user namespace has no ${missing.join(' and no ')}, so its first process cannot become root there: ${idMapProblems(seen, userns).join('; ')}`,
    );
  }
}

async function launch(plan: LaunchPlan): Promise<LaunchResult> {
  // Made and limited before the init exists, joined once it is ready: it never runs in them unlimited.
  const cgroupDirs = plan.cgroups ? makeCgroups(plan.cgroups) : [];
  const spawnInit = () =>
    spawn(process.execPath, [process.argv[1], 'init', JSON.stringify(plan)], { stdio: ['pipe', 'pipe', 'inherit'], detached: true });
  const child = plan.userns ? spawnInitInUserNamespace(plan) : on(plan, 'pid') ? spawnInNewPidNamespace(spawnInit) : spawnInit();
  const exitSignal = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  const lines = readline.createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async (): Promise<Record<string, unknown>> => {
    const { value, done } = await lines.next();
    return done ? {} : (JSON.parse(value) as Record<string, unknown>);
  };
  let pid = child.pid!;
  try {
    if (plan.userns) {
      if (!(await next()).userns) throw new Error(`${UNSHARE} could not create the container's user namespace`);
      pid = childOf(child.pid!);
      mapIds(pid, plan.userns);
      child.stdin!.write('\n');
    }
    const ready = await next();
    if (!ready.ready) throw (ready.error as LaunchResult) ?? new Error('the container init exited before it was ready');
    for (const dir of cgroupDirs) joinCgroup(dir, pid);
    if (plan.veth) wireVeth(plan.veth, pid);
    child.stdin!.write('go\n');
    const execed = await next();
    if (!execed.exec) throw (execed.error as LaunchResult) ?? new Error(await silentDeath(exitSignal));
    child.unref();
    return { ok: true, pid };
  } catch (err) {
    child.kill('SIGKILL');
    // In a user namespace the init is unshare's child, and setpriv cleared its parent-death signal.
    if (pid !== child.pid) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // It exited already.
      }
    }
    if (err && typeof err === 'object' && 'ok' in err) return err as LaunchResult;
    return failure(err);
  }
}

/** Why the init died without a word, from how it died. */
async function silentDeath(exitSignal: Promise<NodeJS.Signals | null>): Promise<string> {
  const signal = await within(exitSignal, 2000);
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
