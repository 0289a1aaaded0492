// Lesson 3: the PID namespace. The container's init is PID 1 of a namespace of its own (NSpid ends in 1,
// the pid link differs from the host's), and, until lesson 4 mounts a fresh one, the /proc it sees is the
// host's: it lists host processes, this lab among them.
import { describeList, nsInode, pass, readStatusField, requireContainer, verdict, visiblePids } from './common.js';
import type { LessonCheck } from './types.js';

export const check: LessonCheck = async (ctx) => {
  const container = requireContainer(ctx, 3);
  if (Array.isArray(container)) return container;
  const pid = container.pid;
  const nspid = readStatusField(pid, 'NSpid')?.split(/\s+/) ?? [];
  const mine = nsInode(pid, 'pid');
  const host = nsInode('self', 'pid');
  const results = [
    verdict(
      'the container is PID 1 in its namespace',
      nspid.length >= 2 && nspid[nspid.length - 1] === '1',
      `NSpid: ${nspid.join(' ') || '?'}`,
      `NSpid: ${pid} 1`,
      nspid.length < 2
        ? 'its pid exists in one namespace only: unshare(CLONE_NEWPID) must come before spawnChild(), which must be called'
        : 'the first child born in the new namespace gets pid 1: call spawnChild() right after unshare, once',
    ),
    verdict(
      'its PID namespace differs from the host',
      mine !== undefined && mine !== host,
      `container ${mine ?? '?'}, host ${host ?? '?'}`,
      'two different pid inodes',
      'unshare(CLONE_NEWPID) in spawnInNewPidNamespace, before spawnChild()',
    ),
  ];
  const visible = visiblePids(pid);
  if (container.level > 3) {
    results.push(pass('its /proc still lists host processes', `the container runs at level ${container.level}: from lesson 4 on its /proc is its own`));
    return results;
  }
  // This lab process lives in the host's PID namespace only: a /proc that lists it is the host's.
  results.push(
    verdict(
      'its /proc still lists host processes (it is the host\'s /proc)',
      visible.includes(process.pid),
      `${describeList(visible)}; the lab itself (host pid ${process.pid}) ${visible.includes(process.pid) ? 'is' : 'is not'} among them`,
      `the host's pids, the lab's ${process.pid} among them`,
      "at lesson 3 nothing mounts a new proc: the container sees the host's /proc, which shows the PID namespace it was mounted from",
    ),
  );
  return results;
};
