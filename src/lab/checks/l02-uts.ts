// Lesson 2: the UTS namespace. The container's uts link differs from the host's, the hostname read from
// inside its UTS namespace is the one the lab asked for, and the host's hostname is what it was when the
// session started.
import { hostnameOf, nsInode, readText, requireContainer, verdict } from './common.js';
import type { LessonCheck } from './types.js';

export const check: LessonCheck = async (ctx) => {
  const container = requireContainer(ctx, 2);
  if (Array.isArray(container)) return container;
  const mine = nsInode(container.pid, 'uts');
  const host = nsInode('self', 'uts');
  const inside = hostnameOf(container.pid);
  // This process is in the host's UTS namespace: procfs answers for it.
  const hostNow = (readText('/proc/sys/kernel/hostname') ?? '?').trim();
  return [
    verdict(
      'the container has a UTS namespace of its own',
      mine !== undefined && mine !== host,
      `container ${mine ?? '?'}, host ${host ?? '?'}`,
      'two different uts inodes',
      'the launcher calls unshare(CLONE_NEWUTS) before your setHostname: restart the container with the enable cell',
    ),
    verdict(
      `its hostname is ${container.hostname}`,
      inside === container.hostname,
      inside === undefined ? 'could not read it (nsenter -u failed)' : `"${inside}"`,
      `"${container.hostname}"`,
      inside === ctx.host.hostname ? 'it still has the host\'s name: setHostname must call sethostname(name) after its length check' : 'setHostname(name) should pass `name` unchanged to sethostname',
    ),
    verdict(
      'the host keeps its hostname',
      hostNow === ctx.host.hostname,
      `"${hostNow}"`,
      `"${ctx.host.hostname}" (as when the lab started)`,
      `set it back with: hostname ${ctx.host.hostname}. sethostname changes the caller's UTS namespace: only call it after unshare(CLONE_NEWUTS)`,
    ),
  ];
};
