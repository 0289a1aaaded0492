// Lesson 6: the network namespace. The container's net link differs from the host's; the kernel lists
// exactly lo and eth0 in its /proc/<pid>/net/dev; lo's flags, read over netlink from inside its namespace,
// include UP; each end of the veth pair (addVethPair) is up with its address (configureInterface), read over
// netlink in its own namespace; and real pings go both ways over the pair (exit statuses of busybox ping). Then
// bringUpInterface alone, in a network namespace of its own, on an interface other than lo whose flags are
// not lo's (NOARP, PROMISC, MULTICAST): they must survive, and a second call on the interface, now up,
// must leave it up.
import { execFile } from 'node:child_process';
import { LESSON_VETH } from '../lesson-container.js';
import { getLink, listIPv4Addresses, withRouteSocket } from '../../linux/netlink.js';
import { namespaceLink } from '../../linux/proc.js';
import { ownNamespace, probeInNewNamespaces, readText, requireContainer, verdict } from './common.js';
import type { CheckContext, CheckResult, LessonCheck } from './types.js';

const PROBE_IF = 'tslabchk0';
const KEPT_FLAGS = ['NOARP', 'PROMISC', 'MULTICAST'];

const flagsIn = (line: string | undefined) => /<([^>]*)>/.exec(line ?? '')?.[1].split(',').filter(Boolean);

/** bringUpInterface(PROBE_IF) twice, in a new network namespace where PROBE_IF is a down veth with KEPT_FLAGS. */
async function otherInterfaceResults(ctx: CheckContext): Promise<CheckResult[]> {
  const setup = `ip link add ${PROBE_IF} type veth peer name tslabchk1 && ip link set ${PROBE_IF} arp off promisc on multicast on`;
  const show = `ip -o link show ${PROBE_IF}`;
  const first = await probeInNewNamespaces(ctx.build, ['--net'], 'bringUpInterface', [PROBE_IF], setup, show);
  const flags = flagsIn(first.after[0]);
  const lost = flags ? KEPT_FLAGS.filter((f) => !flags.includes(f)) : KEPT_FLAGS;
  const again = await probeInNewNamespaces(ctx.build, ['--net'], 'bringUpInterface', [PROBE_IF], `${setup} && ip link set ${PROBE_IF} up`, show);
  const flagsAgain = flagsIn(again.after[0]);
  const saw = (reply: typeof first, f: string[] | undefined) => (!reply.ok ? `it threw: ${reply.error}` : f ? `flags <${f.join(',')}>` : `could not read the flags: ${reply.after.join(' ') || 'no output'}`);
  return [
    verdict(
      `bringUpInterface('${PROBE_IF}') on a down interface with ${KEPT_FLAGS.join(', ')} adds UP and keeps those flags`,
      first.ok && flags !== undefined && flags.includes('UP') && lost.length === 0,
      saw(first, flags),
      `flags including UP, ${KEPT_FLAGS.join(', ')}`,
      !first.ok || !flags?.includes('UP')
        ? 'bring up the interface named by the argument: getInterfaceFlags(sock, name), then setInterfaceFlags(sock, name, flags | IFF_UP)'
        : `write back the flags you read with IFF_UP added (flags | IFF_UP): writing IFF_UP alone cleared ${lost.join(', ')}`,
    ),
    verdict(
      `bringUpInterface('${PROBE_IF}') on an interface already up leaves it up`,
      again.ok && flagsAgain !== undefined && flagsAgain.includes('UP'),
      saw(again, flagsAgain),
      'flags including UP',
      'add the flag with | (flags | IFF_UP): ^ toggles it, and takes down an interface that was up',
    ),
  ];
}

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

/** How interface `name` of the namespace of `pid` (the lab's own without one) looks: its flags and addresses. */
function interfaceState(name: string, pid?: number): { up: boolean; addresses: string[] } | undefined {
  return withRouteSocket((sock) => {
    const link = getLink(sock, name);
    return link && { up: link.up, addresses: listIPv4Addresses(sock, name).map((a) => `${a.address}/${a.prefixLength}`) };
  }, pid);
}

/** The verdict on one end of the pair: present, with exactly its address, and up. */
function endVerdict(where: string, name: string, want: string, state: ReturnType<typeof interfaceState>): CheckResult {
  return verdict(
    `${where}, ${name} is up with ${want}`,
    state !== undefined && state.up && state.addresses.join(' ') === want,
    state === undefined ? `no ${name} there` : `${name} ${state.up ? 'up' : 'down'}, addresses: ${state.addresses.join(' ') || 'none'}`,
    `${name} up, addresses: ${want}`,
    state === undefined
      ? `addVethPair makes both ends: withRouteSocket((sock) => createVethPair(sock, hostName, peerName, pid)), the peer in the namespace of the pid given`
      : !state.addresses.includes(want)
        ? `configureInterface(name, address, prefixLength) must add that address: addIPv4Address(sock, name, address, prefixLength)`
        : `configureInterface must bring the interface up after addressing it: setLinkUp(sock, name)`,
  );
}

export const check: LessonCheck = async (ctx) => {
  const container = requireContainer(ctx);
  if (Array.isArray(container)) return container;
  const pid = container.pid;
  const veth = container.veth ?? LESSON_VETH;

  const mine = namespaceLink(pid, 'net');
  const host = namespaceLink('self', 'net');
  const devices = netDevices(pid);
  const lo = await loopbackFlags(pid);
  const hostEnd = interfaceState(veth.host);
  const peerEnd = mine !== undefined && mine !== host ? interfaceState(veth.peer, pid) : undefined;
  const loUp = lo.flags?.includes('UP') ?? false;
  const selfPing = await ctx.inContainer('ping -c 1 -W 2 127.0.0.1', 10_000);
  const outPing = await ctx.inContainer(`ping -c 1 -W 2 ${veth.hostAddress}`, 10_000);
  const inPing = await ctx.onHost(`busybox ping -c 1 -W 2 ${veth.peerAddress}`, 10_000);
  const pingSaw = (r: { code: number; stderr: string }) =>
    r.code === 0 ? 'exit status 0' : `exit status ${r.code}${r.stderr.trim() ? `: ${r.stderr.trim().split('\n').pop()}` : ''}`;

  const results: CheckResult[] = [
    ownNamespace(
      pid,
      'net',
      'the container has a network namespace of its own',
      'the launcher calls unshare(CLONE_NEWNET) before your bringUpInterface: restart the container with the enable cell',
    ),
    verdict(
      'its interfaces are exactly lo and eth0',
      devices !== undefined && devices.join(' ') === 'eth0 lo',
      devices === undefined ? `/proc/${pid}/net/dev is unreadable` : devices.join(' ') || 'none',
      'eth0 lo',
      mine === host
        ? 'the container still uses the host network: restart it with the enable cell'
        : `eth0 is the container's end of the pair addVethPair makes: createVethPair(sock, hostName, peerName, pid) with the pid given, so that the peer is made in the container's namespace`,
    ),
    endVerdict('on the host', veth.host, `${veth.hostAddress}/${veth.prefixLength}`, hostEnd),
    endVerdict('in the container', veth.peer, `${veth.peerAddress}/${veth.prefixLength}`, peerEnd),
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
  return [...results, ...(await otherInterfaceResults(ctx))];
};
