// A container's end of `tslab run`'s networking. `--network bridge`: a veth pair whose host end is a port
// of the bridge and whose other end is `eth0` in the container's network namespace, with the address the
// IPAM gave it and a default route via the bridge's gateway. `--network none`: the container's own
// namespace with only `lo` (the runtime brings it up). `--network host`: no network namespace of its own.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import {
  type BridgeConfig,
  ensureBridgeLocked,
  hostRange,
  parseIPv4,
  subnetContains,
  validateBridgeConfig,
  withNetworkLock,
} from './bridge.js';
import { IpCommandError, NetworkSetupError, checkInterfaceName, deleteLink, runIp } from './veth.js';

export type NetworkMode = 'bridge' | 'none' | 'host';

export interface ContainerNetwork {
  mode: NetworkMode;
  address?: string;
  gateway?: string;
  prefixLength?: number;
  hostVeth?: string;
}

/** The name of the container's interface. */
export const CONTAINER_IFACE = 'eth0';

/** `--network VALUE` -> mode; a clear error for anything else. */
export function parseNetworkMode(value: string): NetworkMode {
  if (value === 'bridge' || value === 'none' || value === 'host') return value;
  throw new NetworkSetupError(`--network ${value}: expected bridge (the default), none or host`);
}

/** A host-side veth name for a container id: "tsl" + 12 hex digits of its hash (15 bytes, the kernel's limit). */
export function hostVethName(containerId: string): string {
  return `tsl${createHash('sha256').update(containerId).digest('hex').slice(0, 12)}`;
}

/**
 * For a container process already in its own network namespace (pid): a veth pair with the host end
 * (`hostVeth`) attached to the bridge (created if missing), `eth0` inside with `address`, a default route
 * via the gateway, and lo up. On failure nothing is left behind.
 */
export function attachToBridge(cfg: BridgeConfig, pid: number, address: string, hostVeth: string): ContainerNetwork {
  const subnet = validateBridgeConfig(cfg);
  checkInterfaceName(hostVeth);
  const n = parseIPv4(address);
  const { first, last } = hostRange(subnet);
  if (n === undefined || !subnetContains(subnet, n) || n < first || n > last) {
    throw new NetworkSetupError(`address ${address} is not a host address of ${cfg.subnet} (bridge ${cfg.name})`);
  }
  if (address === cfg.gateway) throw new NetworkSetupError(`address ${address} is the gateway of bridge ${cfg.name}`);
  checkOwnNetns(pid);

  let created = false;
  try {
    withNetworkLock(() => {
      ensureBridgeLocked(cfg);
      try {
        runIp(['link', 'add', 'name', hostVeth, 'type', 'veth', 'peer', 'name', CONTAINER_IFACE, 'netns', String(pid)]);
      } catch (err) {
        if (err instanceof IpCommandError && err.exists) {
          throw new NetworkSetupError(
            `cannot create veth ${hostVeth}: an interface of that name exists on the host, or ${CONTAINER_IFACE} exists in the namespace of pid ${pid} ` +
              `(a container that was not removed? \`ip link del ${hostVeth}\` if it is stale)`,
          );
        }
        throw err;
      }
      created = true;
      runIp(['link', 'set', 'dev', hostVeth, 'master', cfg.name]);
      runIp(['link', 'set', 'dev', hostVeth, 'up']);
    });
    runIp(['addr', 'add', `${address}/${subnet.prefixLength}`, 'dev', CONTAINER_IFACE], pid);
    runIp(['link', 'set', 'dev', CONTAINER_IFACE, 'up'], pid);
    runIp(['link', 'set', 'dev', 'lo', 'up'], pid);
    runIp(['route', 'add', 'default', 'via', cfg.gateway, 'dev', CONTAINER_IFACE], pid);
  } catch (err) {
    if (created) {
      try {
        deleteLink(hostVeth);
      } catch {
        /* the original error says more */
      }
    }
    throw err;
  }
  return { mode: 'bridge', address, gateway: cfg.gateway, prefixLength: subnet.prefixLength, hostVeth };
}

/** Removes the container's veth pair. Idempotent: the kernel removes it by itself when the namespace goes. */
export function detachFromBridge(hostVeth: string): void {
  checkInterfaceName(hostVeth);
  deleteLink(hostVeth);
}

function checkOwnNetns(pid: number): void {
  if (!Number.isInteger(pid) || pid <= 0) throw new NetworkSetupError(`pid ${pid} is not a process id`);
  let theirs: string;
  try {
    theirs = fs.readlinkSync(`/proc/${pid}/ns/net`);
  } catch {
    throw new NetworkSetupError(`process ${pid} does not exist (the container exited before its network was set up?)`);
  }
  if (theirs === fs.readlinkSync('/proc/self/ns/net')) {
    throw new NetworkSetupError(`process ${pid} is in the host's network namespace: the container needs a network namespace of its own for --network bridge`);
  }
}

/** The prefix length of a configuration's subnet (for callers building a ContainerNetwork themselves). */
export function prefixLengthOf(cfg: BridgeConfig): number {
  return validateBridgeConfig(cfg).prefixLength;
}
