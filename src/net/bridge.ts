// The host side of `tslab run --network bridge`: one Linux bridge (default `tslab0`) that every container's
// veth pair plugs into, with the gateway address on it. Containers on the bridge reach each other by plain
// L2 switching and the host at the gateway (local delivery): neither needs ip_forward, so no global sysctl
// and no iptables rule is ever touched. Reaching beyond this machine (NAT) is deliberately not set up.
//
// Every change is an rtnetlink request (src/linux/netlink.ts), not an `ip` command: a spawn from Node costs
// 5-15 ms, and a container start used to make about twenty.
//
// Changes to the bridge are serialized by an flock on NET_LOCK_FILE, shared with container-net.ts: a
// `tslab rm` that removes the last container's bridge cannot delete it under a `tslab run` attaching to it.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SyscallError } from '../linux/error.js';
import { LOCK_EX, flock } from '../linux/fs.js';
import {
  type NetlinkLink,
  type NetlinkRoute,
  addIPv4Address,
  createBridge,
  getLink,
  listIPv4Addresses,
  listIPv4Routes,
  listLinks,
  removeLink,
  setLinkUp,
  withRouteSocket,
} from '../linux/netlink.js';
import { NetworkSetupError, checkInterfaceName } from './veth.js';

export interface BridgeConfig {
  /** The bridge's interface name (at most 15 bytes). */
  name: string;
  /** IPv4 CIDR the containers get their addresses from, e.g. "172.29.0.0/16" (must be the network address). */
  subnet: string;
  /** The bridge's own address: the containers' default route. The first host address of the subnet. */
  gateway: string;
}

const DEFAULT_BRIDGE = 'tslab0';
export const DEFAULT_SUBNET = '172.29.0.0/16';
const SUBNET_ENV = 'TSLAB_SUBNET';
/** The lock serializing bridge creation, attachment and removal on this machine (never removed: flock dies with its holder). */
export const NET_LOCK_FILE = fs.existsSync('/run') ? '/run/tslab-net.lock' : path.join(os.tmpdir(), 'tslab-net.lock');

// ---- IPv4 arithmetic (addresses as unsigned 32-bit numbers) ----

export function parseIPv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255) return undefined;
    n = n * 256 + Number(p);
  }
  return n;
}

export function formatIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export interface Subnet {
  /** The network address. */
  network: number;
  prefixLength: number;
  /** Number of addresses, network and broadcast included. */
  size: number;
}

function maskOf(prefixLength: number): number {
  return prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
}

/** Parses "A.B.C.D/N" (N 0..32); `strict` also requires the host bits to be zero. */
export function parseCidr(text: string, strict = true): Subnet {
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(text.trim());
  const address = m ? parseIPv4(m[1]!) : undefined;
  const prefixLength = m ? Number(m[2]) : NaN;
  if (address === undefined || !(prefixLength >= 0 && prefixLength <= 32)) {
    throw new NetworkSetupError(`"${text}" is not an IPv4 subnet in CIDR form such as 10.88.0.0/16`);
  }
  const network = (address & maskOf(prefixLength)) >>> 0;
  if (strict && network !== address) {
    throw new NetworkSetupError(`"${text}" has host bits set: the subnet is ${formatIPv4(network)}/${prefixLength}`);
  }
  return { network, prefixLength, size: 2 ** (32 - prefixLength) };
}

export function subnetContains(s: Subnet, address: number): boolean {
  return ((address & maskOf(s.prefixLength)) >>> 0) === s.network;
}

export function subnetsOverlap(a: Subnet, b: Subnet): boolean {
  const mask = maskOf(Math.min(a.prefixLength, b.prefixLength));
  return ((a.network & mask) >>> 0) === ((b.network & mask) >>> 0);
}

/** The usable host addresses of a subnet: [network + 1, broadcast - 1]. */
export function hostRange(s: Subnet): { first: number; last: number } {
  return { first: s.network + 1, last: s.network + s.size - 2 };
}

/** Checks a configuration and returns its subnet; throws a NetworkSetupError saying what is wrong. */
export function validateBridgeConfig(cfg: BridgeConfig): Subnet {
  checkInterfaceName(cfg.name);
  const s = parseCidr(cfg.subnet);
  if (s.prefixLength < 8 || s.prefixLength > 30) {
    throw new NetworkSetupError(`subnet ${cfg.subnet}: the prefix length must be between /8 and /30 (a gateway and at least one container)`);
  }
  const first = s.network >>> 24;
  if (first === 0 || first === 127 || first >= 224) {
    throw new NetworkSetupError(`subnet ${cfg.subnet} is not usable for containers (0/8, loopback, multicast or reserved); pick a private range such as 10.88.0.0/16`);
  }
  const gw = parseIPv4(cfg.gateway);
  const { first: lo, last: hi } = hostRange(s);
  if (gw === undefined || gw < lo || gw > hi) {
    throw new NetworkSetupError(`gateway ${cfg.gateway} is not a host address of subnet ${cfg.subnet}`);
  }
  return s;
}

// ---- netlink ----

/**
 * Runs `fn`; a kernel refusal (a SyscallError from netlink) becomes a NetworkSetupError that says what was
 * being done (`context`) and keeps the errno in `cause`.
 */
export function netlinkStep<T>(context: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof SyscallError) throw new NetworkSetupError(`${context}: ${err.message}`, { cause: err });
    throw err;
  }
}

/** Deletes interface `name` through `sock` (a veth takes its peer with it); false if it was not there. */
export function deleteLinkIfPresent(sock: number, name: string): boolean {
  try {
    removeLink(sock, name);
    return true;
  } catch (err) {
    if (err instanceof SyscallError && err.code === 'ENODEV') return false;
    throw err;
  }
}

// ---- the host's routes ----

const TABLE_NAMES: Record<number, string> = { 253: 'default', 254: 'main', 255: 'local' };

/** A route the way `ip route` prints it, e.g. "local 10.1.0.5 dev eth0 table local". */
function describeRoute(r: NetlinkRoute): string {
  const dst = r.prefixLength === 32 ? r.destination : `${r.destination}/${r.prefixLength}`;
  const table = TABLE_NAMES[r.table] ?? String(r.table);
  return [r.type !== 'unicast' ? r.type : '', dst, r.gateway ? `via ${r.gateway}` : '', r.device ? `dev ${r.device}` : '', table !== 'main' ? `table ${table}` : '']
    .filter(Boolean)
    .join(' ');
}

/** Routes of the host (every table) whose destination overlaps `subnet`, ignoring default routes and those on `ownDevice`. */
export function overlappingRoutes(subnet: Subnet, ownDevice: string): string[] {
  const routes = netlinkStep("reading the host's routes", () => withRouteSocket(listIPv4Routes));
  return routes
    .filter((r) => r.prefixLength !== 0 && r.device !== ownDevice && r.type !== 'broadcast' && r.type !== 'multicast')
    .filter((r) => subnetsOverlap(subnet, parseCidr(`${r.destination}/${r.prefixLength}`, false)))
    .map(describeRoute);
}

/** Throws naming TSLAB_SUBNET when a route of the host (not on the bridge itself) overlaps the subnet. */
function assertSubnetFree(cfg: BridgeConfig, subnet: Subnet, source: string): void {
  const clash = overlappingRoutes(subnet, cfg.name);
  if (clash.length === 0) return;
  throw new NetworkSetupError(
    `${source} for bridge ${cfg.name} overlaps the host's route${clash.length > 1 ? 's' : ''} ${clash.join('; ')}: ` +
      `set ${SUBNET_ENV} to a free private subnet (for example ${SUBNET_ENV}=10.213.0.0/24)`,
  );
}

/**
 * The bridge of `tslab run`: `tslab0`, subnet from $TSLAB_SUBNET or 172.29.0.0/16, gateway its first host
 * address. Fails (naming TSLAB_SUBNET) when the subnet overlaps a route of the host that is not the bridge's
 * own; `checkRoutes: false` skips that look (for releasing addresses of containers already running).
 */
export function defaultBridgeConfig(opts: { checkRoutes?: boolean; env?: NodeJS.ProcessEnv } = {}): BridgeConfig {
  const env = opts.env ?? process.env;
  const fromEnv = Boolean(env[SUBNET_ENV]?.trim());
  const subnetText = fromEnv ? env[SUBNET_ENV]!.trim() : DEFAULT_SUBNET;
  let subnet: Subnet;
  try {
    subnet = parseCidr(subnetText);
  } catch (err) {
    throw new NetworkSetupError(`${SUBNET_ENV}: ${(err as Error).message}`);
  }
  const cfg: BridgeConfig = {
    name: DEFAULT_BRIDGE,
    subnet: `${formatIPv4(subnet.network)}/${subnet.prefixLength}`,
    gateway: formatIPv4(subnet.network + 1),
  };
  try {
    validateBridgeConfig(cfg);
  } catch (err) {
    throw new NetworkSetupError(fromEnv ? `${SUBNET_ENV}: ${(err as Error).message}` : (err as Error).message);
  }
  if (opts.checkRoutes !== false) assertSubnetFree(cfg, subnet, fromEnv ? `${SUBNET_ENV}=${cfg.subnet}` : `the default subnet ${cfg.subnet}`);
  return cfg;
}

// ---- the lock ----

/** Runs `fn` holding the machine-wide network lock (blocking until it is free). */
export function withNetworkLock<T>(fn: () => T): T {
  const fd = fs.openSync(NET_LOCK_FILE, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
  try {
    flock(fd, LOCK_EX, NET_LOCK_FILE);
    return fn();
  } finally {
    fs.closeSync(fd);
  }
}

// ---- the bridge ----

function randomMac(): string {
  const b = randomBytes(6);
  b[0] = (b[0]! & 0xfe) | 0x02; // unicast, locally administered
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/** ensureBridge without taking the lock: for callers already holding it. */
export function ensureBridgeLocked(cfg: BridgeConfig): void {
  const subnet = validateBridgeConfig(cfg);
  netlinkStep(`bridge ${cfg.name}`, () =>
    withRouteSocket((sock) => {
      const link = getLink(sock, cfg.name);
      if (!link) {
        assertSubnetFree(cfg, subnet, `subnet ${cfg.subnet}`);
        // A fixed MAC: otherwise the bridge takes the lowest of its ports' and changes it as containers come
        // and go, leaving the containers' ARP entries for the gateway stale. No STP, no forwarding delay.
        createBridge(sock, cfg.name, randomMac());
      } else if (link.kind !== 'bridge') {
        throw new NetworkSetupError(
          `interface ${cfg.name} exists but is a ${link.kind ?? 'plain'} device, not a bridge: remove it or choose another bridge name`,
        );
      }
      ensureGatewayAddress(sock, cfg, subnet);
      setLinkUp(sock, cfg.name);
    }),
  );
}

/** Puts the gateway address on the bridge unless it is there; refuses a bridge holding another address. */
function ensureGatewayAddress(sock: number, cfg: BridgeConfig, subnet: Subnet): void {
  const addrs = listIPv4Addresses(sock, cfg.name);
  if (addrs.some((a) => a.address === cfg.gateway && a.prefixLength === subnet.prefixLength)) return;
  if (addrs.length > 0) {
    const have = addrs.map((a) => `${a.address}/${a.prefixLength}`).join(', ');
    throw new NetworkSetupError(
      `bridge ${cfg.name} already has ${have}, not ${cfg.gateway}/${subnet.prefixLength} (was ${SUBNET_ENV} changed?): ` +
        `set ${SUBNET_ENV} back, or remove the containers on it and then the bridge (ip link del ${cfg.name})`,
    );
  }
  addIPv4Address(sock, cfg.name, cfg.gateway, subnet.prefixLength);
}

/** Creates the bridge if missing, puts the gateway address on it and brings it up. Idempotent. */
export function ensureBridge(cfg: BridgeConfig): void {
  validateBridgeConfig(cfg);
  withNetworkLock(() => ensureBridgeLocked(cfg));
}

/** The names of the bridge's ports among `links`; none if the bridge is not among them. */
function portsOf(links: NetlinkLink[], name: string): string[] {
  const bridge = links.find((l) => l.name === name);
  return bridge ? links.filter((l) => l.masterIndex === bridge.index).map((l) => l.name) : [];
}

/** Deletes the bridge if nothing is attached to it; true if this call deleted it (false: in use, or not there). */
export function removeBridgeIfUnused(cfg: BridgeConfig): boolean {
  checkInterfaceName(cfg.name);
  return withNetworkLock(() =>
    netlinkStep(`bridge ${cfg.name}`, () =>
      withRouteSocket((sock) => {
        const links = listLinks(sock);
        const link = links.find((l) => l.name === cfg.name);
        if (!link) return false;
        if (link.kind !== 'bridge') throw new NetworkSetupError(`interface ${cfg.name} is not a bridge: not removing it`);
        if (portsOf(links, cfg.name).length > 0) return false;
        return deleteLinkIfPresent(sock, cfg.name);
      }),
    ),
  );
}
