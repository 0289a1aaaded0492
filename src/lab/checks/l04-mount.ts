// Lesson 4: the mount namespace and a fresh /proc. The container has a mount namespace of its own, every
// mount in it is private (neither "shared:" nor "master:"), its /proc is a proc mounted nosuid,nodev,noexec
// that lists exactly the processes of its PID namespace (its pid 1 being the container's init), and none of
// its mounts reached the host. A host whose "/" has no shared submount would let a makeMountsPrivate without
// MS_REC pass, so the check makes one of its own: a shared tmpfs under a temp dir, then a second container
// from the same build, whose copy of that mount must be private too; the tmpfs is removed afterwards.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MNT_DETACH, MS_SHARED, mount, umount2 } from '../../linux/mount.js';
import type { CheckContext, CheckResult, LessonCheck } from './types.js';
import { type MountinfoEntry, readMountinfo } from '../../linux/mountinfo.js';
import { namespaceLink, readStatusField, visiblePids } from '../../linux/proc.js';
import { describeList, endLaunched, errorText, launchWithPlan, ownNamespace, readText, requireContainer, verdict } from './common.js';

const SCRATCH_PREFIX = 'tslab-check4-';
const PROC_FLAGS = ['nosuid', 'nodev', 'noexec'];

/** The pids, as numbered inside the namespace, of every host process in the PID namespace `ns`. */
function membersOf(ns: string): number[] {
  const members: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    if (namespaceLink(Number(entry), 'pid') !== ns) continue; // another namespace, or gone meanwhile
    const inner = readStatusField(Number(entry), 'NSpid')?.split(/\s+/).pop();
    if (inner) members.push(Number(inner));
  }
  return members.sort((a, b) => a - b);
}

/** Start time (field 22 of stat) of a process as listed in the container's /proc. */
function startTimeInContainerProc(containerPid: number, innerPid: number): number | undefined {
  const stat = readText(`/proc/${containerPid}/root/proc/${innerPid}/stat`);
  if (!stat) return undefined;
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
}

function sameSet(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

const propagation = (m: MountinfoEntry) => m.optionalFields.filter((o) => o.startsWith('shared:') || o.startsWith('master:'));

/** Removes what an earlier run left when its process was killed midway (its owner pid is gone). */
function removeStaleRuns(): void {
  for (const name of fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith(SCRATCH_PREFIX))) {
    const dir = path.join(os.tmpdir(), name);
    const owner = Number(readText(path.join(dir, 'owner')));
    if (!Number.isInteger(owner) || owner <= 0 || fs.existsSync(`/proc/${owner}`)) continue;
    removeScratch(dir);
  }
}

function removeScratch(dir: string): void {
  const shared = path.join(dir, 'shared');
  while (readMountinfo('self').some((m) => m.mountPoint === shared)) umount2(shared, MNT_DETACH);
  fs.rmSync(dir, { recursive: true, force: true });
}

/**
 * A shared tmpfs of the check's own, then a second container of the same build: its copy of the tmpfs must be
 * private. A makeMountsPrivate without MS_REC leaves it shared (and the launcher then refuses to mount /proc).
 */
/** Said wherever a master:N tag is seen, whether or not the host has shared mounts of its own (many VMs have none). */
const SLAVE_HINT = "master:N is MS_SLAVE: the copy still receives every mount the host makes. makeMountsPrivate: mount(null, '/', null, MS_REC | MS_PRIVATE)";

async function ownSharedMountResult(ctx: CheckContext): Promise<CheckResult> {
  const name = "with a shared mount on the host, the container's copy of it is private too (MS_REC reaches every mount)";
  const hint = "makeMountsPrivate: mount(null, '/', null, MS_REC | MS_PRIVATE); without MS_REC only '/' itself changes, and every mount below it stays shared";
  removeStaleRuns();
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), SCRATCH_PREFIX));
  fs.writeFileSync(path.join(scratch, 'owner'), String(process.pid));
  const shared = path.join(scratch, 'shared');
  let pid: number | undefined;
  try {
    fs.mkdirSync(shared);
    mount('tslab-check4', shared, 'tmpfs', 0, 'size=64k');
    mount(null, shared, null, MS_SHARED);
    const launched = await launchWithPlan(ctx.build, { features: ctx.features, hostname: `lesson-${ctx.lesson.number}-check`, rootfs: '', rootSwitch: 'pivot', keepCapabilities: [] });
    if (!launched.ok) return verdict(name, false, `the container could not start: ${launched.error}`, `its copy of ${shared} private`, hint);
    pid = launched.pid;
    const copy = readMountinfo(pid).find((m) => m.mountPoint === shared);
    const tags = copy ? propagation(copy) : [];
    return verdict(
      name,
      copy !== undefined && tags.length === 0,
      copy ? `its copy of ${shared}: ${tags.join(' ') || 'private'}` : `no copy of ${shared} in the container's mountinfo`,
      `its copy of ${shared} private (no shared: or master: tag)`,
      tags.some((tag) => tag.startsWith('master:')) ? SLAVE_HINT : hint,
    );
  } catch (err) {
    return verdict(name, false, `the check could not set up its shared mount: ${errorText(err)}`, 'a shared tmpfs under a temp dir', 'this is a bug in tslab: please report it');
  } finally {
    if (pid !== undefined) await endLaunched(pid);
    removeScratch(scratch);
  }
}

/** The host's /proc/self, which names this process as long as the host's /proc is the host's. */
function hostSelfLink(): string {
  try {
    return fs.readlinkSync('/proc/self');
  } catch {
    return 'unreadable';
  }
}

export const check: LessonCheck = async (ctx) => {
  const container = requireContainer(ctx);
  if (Array.isArray(container)) return container;
  const pid = container.pid;

  const mounts = readMountinfo(pid);
  const propagating = mounts.filter((m) => propagation(m).length > 0);
  const proc = mounts.filter((m) => m.mountPoint === '/proc').pop();
  const missingFlags = proc ? PROC_FLAGS.filter((f) => !proc.mountOptions.includes(f)) : PROC_FLAGS;

  // Processes come and go (a container cell may just be ending): compare twice before calling it a mismatch.
  const pidNs = namespaceLink(pid, 'pid') ?? '?';
  let visible = visiblePids(pid);
  let members = membersOf(pidNs);
  if (!sameSet(visible, members)) {
    await sleep(300);
    visible = visiblePids(pid);
    members = membersOf(pidNs);
  }
  const initStart = startTimeInContainerProc(pid, 1);
  const procOk = sameSet(visible, members) && initStart === container.startTime;

  // Only what the container made can have reached the host: its proc (a superblock of its own, told by its
  // device number), and through it the host's /proc would show another PID namespace.
  const hostMounts = readMountinfo('self');
  const leaked = proc && proc.fsType === 'proc' ? hostMounts.filter((m) => m.device === proc.device) : [];
  const hostSelf = hostSelfLink();

  return [
    ownNamespace(
      pid,
      'mnt',
      'the container has a mount namespace of its own',
      'newMountNamespace() must call unshare(CLONE_NEWNS); the lab calls it before makeMountsPrivate. Then restart the container with the enable cell',
    ),
    verdict(
      'every one of its mounts is private (no shared: or master: tag)',
      propagating.length === 0,
      propagating.length
        ? `${propagating.length} mounts still propagate: ${propagating.slice(0, 4).map((m) => `${m.mountPoint} ${propagation(m).join(' ')}`).join(', ')}`
        : `all ${mounts.length} mounts private`,
      'no mount with a shared:N or master:N tag in /proc/<pid>/mountinfo',
      propagating.some((m) => m.optionalFields.some((o) => o.startsWith('master:')))
        ? SLAVE_HINT
        : "makeMountsPrivate: mount(null, '/', null, MS_REC | MS_PRIVATE); MS_REC reaches every mount below /",
    ),
    await ownSharedMountResult(ctx),
    verdict(
      "its /proc lists only the container's processes",
      procOk,
      `${describeList(visible)}; pid 1 there ${initStart === container.startTime ? 'is' : 'is not'} the lesson container's init`,
      `${describeList(members)}: the processes of its PID namespace, pid 1 being its init`,
      visible.includes(process.pid) || visible.length > members.length + 2
        ? "it still sees the host's /proc: mountProc(target) must mount('proc', target, 'proc', flags)"
        : 'a proc filesystem shows the PID namespace of the process that mounts it: mountProc runs in the container init',
    ),
    verdict(
      'its /proc is mounted nosuid,nodev,noexec',
      proc !== undefined && proc.fsType === 'proc' && missingFlags.length === 0,
      proc ? `${proc.fsType} on /proc with ${proc.mountOptions.join(',')}` : 'nothing mounted on /proc',
      `proc on /proc with ${PROC_FLAGS.join(',')}`,
      `mountProc: mount('proc', target, 'proc', MS_NOSUID | MS_NODEV | MS_NOEXEC)${missingFlags.length ? `: ${missingFlags.join(', ')} missing` : ''}`,
    ),
    verdict(
      "none of its mounts reached the host (the host's /proc is still the host's)",
      leaked.length === 0 && hostSelf === String(process.pid),
      leaked.length
        ? `the container's proc (device ${proc!.device}) is mounted on the host at ${leaked.map((m) => m.mountPoint).join(', ')}`
        : `the host's /proc/self is ${hostSelf}`,
      `no mount of device ${proc?.device ?? '?'} on the host; the host's /proc/self is ${process.pid}`,
      "a container's proc reached the host's /proc through shared propagation: make mounts private before mountProc; undo with: umount /proc (once)",
    ),
  ];
};
