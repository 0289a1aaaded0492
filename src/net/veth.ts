// A veth pair between the host and a process's network namespace, configured with iproute2's `ip` (which
// speaks netlink for us). Used by the lab's lesson container; `tslab run`'s bridge networking (bridge.ts,
// container-net.ts) shares only the name check and the error type: it speaks netlink itself (src/linux/netlink.ts).
import { execFileSync } from 'node:child_process';

export interface VethPlan {
  /** Name of the host end (at most 15 bytes). */
  host: string;
  /** Name of the end inside the namespace. */
  peer: string;
  hostAddress: string;
  peerAddress: string;
  prefixLength: number;
}

export class NetworkSetupError extends Error {}

/** The kernel's limit on an interface name (IFNAMSIZ 16, NUL included). */
const IFNAME_MAX = 15;

/** Throws unless `name` is a name the kernel takes for an interface. */
export function checkInterfaceName(name: string): void {
  if (!name || Buffer.byteLength(name) > IFNAME_MAX) {
    throw new NetworkSetupError(`interface name "${name}" must be 1 to ${IFNAME_MAX} bytes long`);
  }
  if (/[\s/:]/.test(name) || name === '.' || name === '..') {
    throw new NetworkSetupError(`interface name "${name}" must not contain whitespace, '/' or ':'`);
  }
}

/** Runs `ip ARGS` (in the network namespace of `netnsOfPid`, through nsenter, if given). */
function ip(args: string[], netnsOfPid?: number): void {
  const [command, argv] = netnsOfPid === undefined ? ['ip', args] : ['nsenter', [`--net=/proc/${netnsOfPid}/ns/net`, 'ip', ...args]];
  try {
    execFileSync(command, argv, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  } catch (err) {
    const stderr = String((err as { stderr?: string }).stderr ?? '').trim();
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    if (missing) throw new NetworkSetupError(`${command} is not installed: apt-get install iproute2 util-linux`);
    throw new NetworkSetupError(`ip ${args.join(' ')}${netnsOfPid === undefined ? '' : ` (in the network namespace of pid ${netnsOfPid})`}: ${stderr || 'failed'}`);
  }
}

/** Creates the pair with one end already inside the namespace of `pid`, addresses both ends and brings them up. */
export function connectVeth(plan: VethPlan, pid: number): void {
  if (Buffer.byteLength(plan.host) > 15) throw new NetworkSetupError(`interface name "${plan.host}" is longer than 15 bytes`);
  ip(['link', 'add', plan.host, 'type', 'veth', 'peer', 'name', plan.peer, 'netns', String(pid)]);
  ip(['addr', 'add', `${plan.hostAddress}/${plan.prefixLength}`, 'dev', plan.host]);
  ip(['link', 'set', plan.host, 'up']);
  ip(['addr', 'add', `${plan.peerAddress}/${plan.prefixLength}`, 'dev', plan.peer], pid);
  ip(['link', 'set', plan.peer, 'up'], pid);
}
