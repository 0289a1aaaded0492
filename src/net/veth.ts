// A veth pair between the host and a process's network namespace, configured with iproute2's `ip` (which
// speaks netlink for us). Used by the lab's lesson container; `tslab run`'s bridge networking builds on it.
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

function ip(args: string[], netnsOfPid?: number): void {
  const [command, argv] = netnsOfPid === undefined ? ['ip', args] : ['nsenter', [`--net=/proc/${netnsOfPid}/ns/net`, 'ip', ...args]];
  try {
    execFileSync(command, argv, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  } catch (err) {
    const stderr = String((err as { stderr?: string }).stderr ?? '').trim();
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw new NetworkSetupError(
      missing ? `${command} is not installed: apt-get install iproute2 util-linux` : `ip ${args.join(' ')}: ${stderr || 'failed'}`,
    );
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
