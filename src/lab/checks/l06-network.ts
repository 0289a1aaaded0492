// Lesson 6: the network namespace. The container's net link differs from the host's; the kernel lists
// exactly lo and eth0 in its /proc/<pid>/net/dev; lo's flags, read over netlink from inside its namespace,
// include UP; and real pings go both ways over the veth pair (exit statuses of busybox ping).
import { execFile } from 'node:child_process';
import { LESSON_VETH } from '../container.js';
import { nsInode, readText, requireContainer, verdict } from './common.js';
import type { LessonCheck } from './types.js';

/** Interface names in a process's /proc/<pid>/net/dev (its network namespace), sorted. */
function netDevices(pid: number): string[] | undefined {
  const text = readText(`/proc/${pid}/net/dev`);
  if (text === undefined) return undefined;
  return text
    .split('\n')
    .slice(2)
    .map((line) => line.split(':')[0].trim())
    .filter(Boolean)
    .sort();
}

/** The flags of `lo` in the network namespace of `pid`, as the kernel reports them over netlink. */
function loopbackFlags(pid: number): Promise<{ flags?: string[]; error?: string }> {
  return new Promise((resolve) => {
    execFile(
      'nsenter',
      [`--net=/proc/${pid}/ns/net`, 'ip', '-o', 'link', 'show', 'lo'],
      { encoding: 'utf8', timeout: 5000 },
      (err, stdout, stderr) => {
        const match = /<([^>]*)>/.exec(stdout);
        if (err || !match) resolve({ error: (stderr || err?.message || 'no output').trim() });
        else resolve({ flags: match[1].split(',').filter(Boolean) });
      },
    );
  });
}

export const check: LessonCheck = async (ctx) => {
  const container = requireContainer(ctx, 6);
  if (Array.isArray(container)) return container;
  const pid = container.pid;
  const veth = container.veth ?? LESSON_VETH;

  const mine = nsInode(pid, 'net');
  const host = nsInode('self', 'net');
  const devices = netDevices(pid);
  const lo = await loopbackFlags(pid);
  const loUp = lo.flags?.includes('UP') ?? false;
  const selfPing = await ctx.inContainer('ping -c 1 -W 2 127.0.0.1', 10_000);
  const outPing = await ctx.inContainer(`ping -c 1 -W 2 ${veth.hostAddress}`, 10_000);
  const inPing = await ctx.onHost(`busybox ping -c 1 -W 2 ${veth.peerAddress}`, 10_000);
  const pingSaw = (r: { code: number; stderr: string }) =>
    r.code === 0 ? 'exit status 0' : `exit status ${r.code}${r.stderr.trim() ? `: ${r.stderr.trim().split('\n').pop()}` : ''}`;

  return [
    verdict(
      'the container has a network namespace of its own',
      mine !== undefined && mine !== host,
      `container ${mine ?? '?'}, host ${host ?? '?'}`,
      'two different net inodes',
      'the launcher calls unshare(CLONE_NEWNET) before your bringUpInterface: restart the container with the enable cell',
    ),
    verdict(
      'its interfaces are exactly lo and eth0',
      devices !== undefined && devices.join(' ') === 'eth0 lo',
      devices === undefined ? `/proc/${pid}/net/dev is unreadable` : devices.join(' ') || 'none',
      'eth0 lo',
      mine === host
        ? 'the container still uses the host network: restart it with the enable cell'
        : 'eth0 is the container end of the veth pair the lab adds after your step: restart the container with the enable cell',
    ),
    verdict(
      'lo is up inside the container',
      loUp,
      lo.flags ? `lo flags <${lo.flags.join(',')}>` : `could not read them: ${lo.error}`,
      'flags including UP',
      'bringUpInterface must write the flags back with IFF_UP added: setInterfaceFlags(sock, name, flags | IFF_UP), on a socket opened in the container (the launcher calls it after unshare)',
    ),
    verdict(
      'the container reaches 127.0.0.1 (ping inside)',
      selfPing.code === 0,
      pingSaw(selfPing),
      'exit status 0',
      loUp ? 'lo is up but does not answer: restart the container with the enable cell' : 'a loopback that is down drops everything: bring lo up (see the check above)',
    ),
    verdict(
      `the container reaches the host end ${veth.hostAddress} (ping inside)`,
      outPing.code === 0,
      pingSaw(outPing),
      'exit status 0',
      `look at \`ip addr\` in a container cell and \`ip addr show ${veth.host}\` on the host: both ends must be up with their addresses; restart the container with the enable cell`,
    ),
    verdict(
      `the host reaches the container at ${veth.peerAddress} (ping on the host)`,
      inPing.code === 0,
      pingSaw(inPing),
      'exit status 0',
      `check that ${veth.host} exists and is up on the host (ip -o link show ${veth.host}); restart the container with the enable cell`,
    ),
  ];
};
