// Lesson 4: the mount namespace and a fresh /proc. The container has a mount namespace of its own, none of
// its mounts propagates (no "shared:" peer group), the /proc it sees lists exactly the processes of its PID
// namespace (its pid 1 being the container's init), and the host did not gain a mount.
import * as fs from 'node:fs';
import {
  describeList,
  hostMountCount,
  nsInode,
  readMountinfo,
  readStatusField,
  readText,
  requireContainer,
  verdict,
  visiblePids,
} from './common.js';
import type { LessonCheck } from './types.js';

/** The pids, as numbered inside the namespace, of every host process in the PID namespace `ns`. */
function membersOf(ns: string): number[] {
  const members: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let link: string;
    try {
      link = fs.readlinkSync(`/proc/${entry}/ns/pid`);
    } catch {
      continue; // gone meanwhile
    }
    if (link !== ns) continue;
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

export const check: LessonCheck = async (ctx) => {
  const container = requireContainer(ctx, 4);
  if (Array.isArray(container)) return container;
  const pid = container.pid;
  const mine = nsInode(pid, 'mnt');
  const host = nsInode('self', 'mnt');

  const shared = readMountinfo(pid).filter((m) => m.optional.some((o) => o.startsWith('shared:')));

  // Processes come and go (a container cell may just be ending): compare twice before calling it a mismatch.
  const pidNs = nsInode(pid, 'pid') ?? '?';
  let visible = visiblePids(pid);
  let members = membersOf(pidNs);
  if (!sameSet(visible, members)) {
    await new Promise((resolve) => setTimeout(resolve, 300));
    visible = visiblePids(pid);
    members = membersOf(pidNs);
  }
  const initStart = startTimeInContainerProc(pid, 1);
  const procOk = sameSet(visible, members) && initStart === container.startTime;

  const hostMounts = hostMountCount();
  const hostProcMounts = readMountinfo('self').filter((m) => m.mountPoint === '/proc').length;

  return [
    verdict(
      'the container has a mount namespace of its own',
      mine !== undefined && mine !== host,
      `container ${mine ?? '?'}, host ${host ?? '?'}`,
      'two different mnt inodes',
      'the launcher calls unshare(CLONE_NEWNS): restart the container with the enable cell',
    ),
    verdict(
      'none of its mounts propagates (no shared: peer group)',
      shared.length === 0,
      shared.length ? `${shared.length} shared mounts: ${shared.slice(0, 4).map((m) => `${m.mountPoint} ${m.optional.join(' ')}`).join(', ')}` : 'every mount private',
      'no mount with a shared:N tag in /proc/<pid>/mountinfo',
      "makeMountsPrivate: mount(null, '/', null, MS_REC | MS_PRIVATE); MS_REC reaches every mount below /",
    ),
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
      "the host's mounts are unchanged",
      hostMounts === ctx.host.mountCount && hostProcMounts <= 1,
      `${hostMounts} mounts on the host, ${hostProcMounts} of them on /proc`,
      `${ctx.host.mountCount} mounts (as when the lab started), one on /proc`,
      hostProcMounts > 1
        ? "a container's proc reached the host's /proc through shared propagation: make mounts private before mountProc; undo with: umount /proc (once)"
        : 'something mounted or unmounted on the host since the lab started: compare /proc/self/mountinfo with what you expect',
    ),
  ];
};
