// A container's network as the engine sees it: an address from the bridge's IPAM before the container
// exists (its /etc/hosts needs it), the veth pair and port proxies once its init is waiting to start, and
// all of it released when it ends.
import { defaultBridgeConfig, ensureBridge, removeBridgeIfUnused } from '../net/bridge.js';
import { attachToBridge, detachFromBridge, type ContainerNetwork } from '../net/container-net.js';
import { Ipam } from '../net/ipam.js';
import { startPortProxy, stopPortProxy } from '../net/port-proxy.js';
import { networkStateDir } from './engine-paths.js';
import type { ContainerRecord } from './record.js';
import { distScript } from '../fs/package.js';

/** Reserves what the container will need; the bridge itself comes up here too. */
export function planNetwork(id: string, mode: ContainerNetwork['mode']): ContainerNetwork {
  if (mode !== 'bridge') return { mode };
  const cfg = defaultBridgeConfig();
  ensureBridge(cfg);
  const address = new Ipam(networkStateDir(), cfg).allocate(id);
  return { mode, address, gateway: cfg.gateway, prefixLength: Number(cfg.subnet.split('/')[1]), hostVeth: `tsl${id.slice(0, 12)}` };
}

/** Between create and start: the veth pair into the init's namespace, then the published ports. */
export function connectNetwork(record: ContainerRecord): ContainerRecord {
  const net = record.network;
  if (net.mode !== 'bridge' || !net.address || !net.hostVeth || record.pid === undefined) return record;
  const attached = attachToBridge(defaultBridgeConfig(), record.pid, net.address, net.hostVeth);
  const watch = { pid: record.pid, startTime: record.pidStartTime! };
  // A proxy watches the container: it never outlives it, nor forwards to an address handed out again.
  const proxies = record.ports.map((mapping) => startPortProxy(mapping, net.address!, distScript('net', 'port-proxy-main.cjs'), { watch }));
  return { ...record, network: { ...net, ...attached }, proxies };
}

/** Releases everything connectNetwork and planNetwork took; safe to call more than once. */
export function disconnectNetwork(record: ContainerRecord): void {
  for (const proxy of record.proxies) stopPortProxy(proxy);
  const net = record.network;
  if (net.mode !== 'bridge') return;
  // Releasing must work even if routes changed since: no overlap check here.
  const cfg = defaultBridgeConfig({ checkRoutes: false });
  if (net.hostVeth) detachFromBridge(net.hostVeth);
  new Ipam(networkStateDir(), cfg).release(record.id);
  removeBridgeIfUnused(cfg);
}
