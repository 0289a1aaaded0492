// iproute2 as the tests' witness of network state: what `ip` shows is what the kernel has, whichever code
// made it (tslab speaks netlink itself, so a bug there cannot hide behind the same bug in the check).
import { spawnSync } from 'node:child_process';

const NO_SUCH_DEVICE = /Cannot find device|does not exist|No such device/i;

/** Runs `ip ARGS` (in the network namespace of `pid`, through nsenter, if given); undefined if the device is not there. */
function ip(args: string[], pid?: number): string | undefined {
  const [command, argv] = pid === undefined ? ['ip', args] : ['nsenter', [`--net=/proc/${pid}/ns/net`, 'ip', ...args]];
  const r = spawnSync(command, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status === 0) return r.stdout;
  if (NO_SUCH_DEVICE.test(r.stderr ?? '')) return undefined;
  throw new Error(`${command} ${argv.join(' ')}: ${r.stderr?.trim() || r.error?.message || `exit status ${r.status}`}`);
}

/** `ip -j ARGS`, parsed; [] when the named device is not there. */
export function ipJson<T>(args: string[], pid?: number): T {
  const out = ip(['-j', ...args], pid)?.trim();
  return (out ? JSON.parse(out) : []) as T;
}

export interface LinkInfo {
  ifname: string;
  operstate?: string;
  flags?: string[];
  master?: string;
  address?: string;
  linkinfo?: { info_kind?: string };
}

/** The interface `name` of this network namespace (with its kind), or undefined if there is none. */
export function findLink(name: string): LinkInfo | undefined {
  return ipJson<LinkInfo[]>(['-d', 'link', 'show', 'dev', name])[0];
}

/** Deletes the interface `name` (a veth takes its peer with it); false if it was not there. */
export function deleteLink(name: string): boolean {
  return ip(['link', 'del', 'dev', name]) !== undefined;
}

/** The interfaces attached to the bridge `name` (its ports). */
export function bridgePorts(name: string): string[] {
  return ipJson<LinkInfo[]>(['link', 'show', 'master', name]).map((l) => l.ifname);
}
