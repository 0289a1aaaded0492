// A container's end of `tslab run`'s networking. `--network bridge`: a veth pair whose host end is a port
// of the bridge and whose other end is `eth0` in the container's network namespace, with the address the
// IPAM gave it and a default route via the bridge's gateway. `--network none`: the container's own
// namespace with only `lo` (the runtime brings it up). `--network host`: no network namespace of its own.
import { SyscallError } from '../linux/error.js';
import { namespaceLink } from '../linux/proc.js';
import { addDefaultRoute, addIPv4Address, createVethPair, setLinkMaster, setLinkUp, withRouteSocket } from '../linux/netlink.js';
import {
  type BridgeConfig,
  deleteLinkIfPresent,
  ensureBridgeLocked,
  hostRange,
  netlinkStep,
  parseIPv4,
  subnetContains,
  validateBridgeConfig,
  withNetworkLock,
} from './bridge.js';
import { NetworkSetupError, checkInterfaceName } from './veth.js';

export type NetworkMode = 'bridge' | 'none' | 'host';

export interface ContainerNetwork {
  mode: NetworkMode;
  address?: string;
  gateway?: string;
  prefixLength?: number;
  hostVeth?: string;
}

/** The name of the container's interface. */
const CONTAINER_IFACE = 'eth0';

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
      netlinkStep(`veth ${hostVeth}`, () =>
        withRouteSocket((sock) => {
          createHostVeth(sock, hostVeth, pid);
          created = true;
          setLinkMaster(sock, hostVeth, cfg.name);
          setLinkUp(sock, hostVeth);
        }),
      );
    });
    configureInside(pid, address, subnet.prefixLength, cfg.gateway);
  } catch (err) {
    if (created) {
      try {
        detachFromBridge(hostVeth);
      } catch {
        /* the original error says more */
      }
    }
    throw err;
  }
  return { mode: 'bridge', address, gateway: cfg.gateway, prefixLength: subnet.prefixLength, hostVeth };
}

/** The veth pair, its peer made as eth0 right inside the namespace of pid; a name clash explained. */
function createHostVeth(sock: number, hostVeth: string, pid: number): void {
  try {
    createVethPair(sock, hostVeth, CONTAINER_IFACE, pid);
  } catch (err) {
    if (err instanceof SyscallError && err.code === 'EEXIST') {
      throw new NetworkSetupError(
        `cannot create veth ${hostVeth}: an interface of that name exists on the host, or ${CONTAINER_IFACE} exists in the namespace of pid ${pid} ` +
          `(a container that was not removed? \`ip link del ${hostVeth}\` if it is stale)`,
        { cause: err },
      );
    }
    throw err;
  }
}

/** Inside the namespace of pid: eth0 with its address and up, lo up, the default route via the gateway. */
function configureInside(pid: number, address: string, prefixLength: number, gateway: string): void {
  netlinkStep(`${CONTAINER_IFACE} in the network namespace of pid ${pid}`, () =>
    withRouteSocket((sock) => {
      addIPv4Address(sock, CONTAINER_IFACE, address, prefixLength);
      setLinkUp(sock, CONTAINER_IFACE);
      setLinkUp(sock, 'lo');
      addDefaultRoute(sock, gateway, CONTAINER_IFACE);
    }, pid),
  );
}

/** Removes the container's veth pair. Idempotent: the kernel removes it by itself when the namespace goes. */
export function detachFromBridge(hostVeth: string): void {
  checkInterfaceName(hostVeth);
  netlinkStep(`veth ${hostVeth}`, () => withRouteSocket((sock) => deleteLinkIfPresent(sock, hostVeth)));
}

function checkOwnNetns(pid: number): void {
  if (!Number.isInteger(pid) || pid <= 0) throw new NetworkSetupError(`pid ${pid} is not a process id`);
  const theirs = namespaceLink(pid, 'net');
  if (theirs === undefined) throw new NetworkSetupError(`process ${pid} does not exist (the container exited before its network was set up?)`);
  if (theirs === namespaceLink('self', 'net')) {
    throw new NetworkSetupError(`process ${pid} is in the host's network namespace: the container needs a network namespace of its own for --network bridge`);
  }
}
