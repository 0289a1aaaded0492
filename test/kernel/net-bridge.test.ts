// Bridge networking against the real kernel: a bridge with a test-unique name and /24, two network
// namespaces (each held by an `unshare --net sleep` child) attached with attachToBridge, pings between
// them, to the gateway and from the host; detaching, the kernel's own removal of a dead namespace's veth,
// and removing the bridge once unused. Everything made here is removed in afterAll.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  type BridgeConfig,
  NET_LOCK_FILE,
  defaultBridgeConfig,
  ensureBridge,
  formatIPv4,
  overlappingRoutes,
  parseCidr,
  removeBridgeIfUnused,
} from '../../src/net/bridge.js';
import { attachToBridge, detachFromBridge } from '../../src/net/container-net.js';
import { bridgePorts, deleteLink, findLink, ipJson } from '../helpers/ip.js';
import { exited } from '../helpers/kernel-tests.js';

const isRoot = process.getuid?.() === 0;
const tag = String(process.pid).slice(-7);
const lockExisted = fs.existsSync(NET_LOCK_FILE);
const sleepers: ChildProcess[] = [];
const veths = new Set<string>();
const bridges = new Set<string>();

/** A /24 in 10.213.0.0/16 - 10.250.0.0/16 that no route of the host overlaps, different per test process. */
function freeTestSubnet(salt: number): string {
  for (let i = 0; i < 10_000; i++) {
    const n = (process.pid * 7 + salt * 131 + i) % (38 * 256);
    const subnet = `10.${213 + Math.floor(n / 256)}.${n % 256}.0/24`;
    if (overlappingRoutes(parseCidr(subnet), '').length === 0) return subnet;
  }
  throw new Error('no free /24 for the test');
}

function testConfig(name: string, salt: number): BridgeConfig {
  const subnet = freeTestSubnet(salt);
  bridges.add(name);
  return { name, subnet, gateway: formatIPv4(parseCidr(subnet).network + 1) };
}

function addressIn(cfg: BridgeConfig, host: number): string {
  return formatIPv4(parseCidr(cfg.subnet).network + host);
}

/** A process in a new network namespace of its own. */
async function namespaceHolder(): Promise<number> {
  const child = spawn('unshare', ['--net', 'sleep', '1000'], { stdio: 'ignore' });
  sleepers.push(child);
  const own = fs.readlinkSync('/proc/self/ns/net');
  for (let i = 0; i < 500; i++) {
    try {
      if (child.pid && fs.readlinkSync(`/proc/${child.pid}/ns/net`) !== own) return child.pid;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('unshare --net did not get its namespace');
}

/** Runs a command in the network namespace of pid; exit status and output. */
function inNetns(pid: number, args: string[]): { status: number; out: string } {
  try {
    return { status: 0, out: execFileSync('nsenter', [`--net=/proc/${pid}/ns/net`, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 }) };
  } catch (err) {
    const e = err as { status?: number; stdout?: string; stderr?: string };
    return { status: e.status ?? -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

const ping = (pid: number, address: string) => inNetns(pid, ['busybox', 'ping', '-c', '1', '-W', '2', address]);

afterAll(async () => {
  for (const v of veths) deleteLink(v);
  for (const s of sleepers) {
    if (s.exitCode === null && s.signalCode === null) {
      s.kill('SIGKILL');
      await exited(s).catch(() => undefined);
    }
  }
  for (const b of bridges) deleteLink(b);
  if (!lockExisted) fs.rmSync(NET_LOCK_FILE, { force: true });
});

describe.skipIf(!isRoot)('a bridge with two namespaces', () => {
  let cfg: BridgeConfig;
  let a: number;
  let b: number;
  const vethA = `tslta${tag}`;
  const vethB = `tsltb${tag}`;

  beforeAll(async () => {
    cfg = testConfig(`tslt${tag}`, 0);
    [a, b] = [await namespaceHolder(), await namespaceHolder()];
  });

  test('ensureBridge makes an up bridge with the gateway address and a fixed MAC, and is idempotent', () => {
    expect(findLink(cfg.name)).toBeUndefined();
    ensureBridge(cfg);
    const link = findLink(cfg.name)!;
    ensureBridge(cfg);
    expect(link.linkinfo?.info_kind).toBe('bridge');
    expect(link.flags).toContain('UP');
    const addrs = ipJson<Array<{ addr_info: Array<{ family: string; local: string; prefixlen: number }> }>>(['addr', 'show', 'dev', cfg.name])[0]!
      .addr_info.filter((x) => x.family === 'inet')
      .map((x) => `${x.local}/${x.prefixlen}`);
    expect(addrs).toEqual([`${cfg.gateway}/24`]);
    expect(findLink(cfg.name)!.address).toBe(link.address);
    // Nothing global changed: forwarding stays as it was (ensureBridge never writes sysctls).
    expect(bridgePorts(cfg.name)).toEqual([]);
  });

  test('attachToBridge: eth0 with the address and a default route inside, the host end a port of the bridge', () => {
    veths.add(vethA).add(vethB);
    const netA = attachToBridge(cfg, a, addressIn(cfg, 2), vethA);
    const netB = attachToBridge(cfg, b, addressIn(cfg, 3), vethB);
    expect(netA).toEqual({ mode: 'bridge', address: addressIn(cfg, 2), gateway: cfg.gateway, prefixLength: 24, hostVeth: vethA });
    expect(netB.address).toBe(addressIn(cfg, 3));
    expect(bridgePorts(cfg.name).sort()).toEqual([vethA, vethB].sort());
    expect(findLink(vethA)?.master).toBe(cfg.name);

    const inside = JSON.parse(inNetns(a, ['ip', '-j', 'addr', 'show', 'dev', 'eth0']).out) as Array<{ operstate: string; addr_info: Array<{ family: string; local: string; prefixlen: number }> }>;
    expect(inside[0]!.addr_info.filter((x) => x.family === 'inet').map((x) => `${x.local}/${x.prefixlen}`)).toEqual([`${addressIn(cfg, 2)}/24`]);
    const routes = JSON.parse(inNetns(a, ['ip', '-j', 'route']).out) as Array<{ dst: string; gateway?: string; dev: string }>;
    expect(routes.find((r) => r.dst === 'default')).toMatchObject({ gateway: cfg.gateway, dev: 'eth0' });
    expect(inNetns(a, ['cat', '/sys/class/net/lo/operstate']).out.trim()).toBe('unknown'); // lo is up (its operstate is never "up")
    expect(inNetns(a, ['ip', '-j', 'link', 'show', 'lo']).out).toContain('"UP"');
  });

  test('the namespaces reach each other, the gateway, and the host reaches them', () => {
    const ab = ping(a, addressIn(cfg, 3));
    expect(ab.status, ab.out).toBe(0);
    const ba = ping(b, addressIn(cfg, 2));
    expect(ba.status, ba.out).toBe(0);
    const gw = ping(a, cfg.gateway);
    expect(gw.status, gw.out).toBe(0);
    const host = execFileSync('busybox', ['ping', '-c', '1', '-W', '2', addressIn(cfg, 3)], { encoding: 'utf8' });
    expect(host).toContain('1 packets received');
  });

  test("the namespaces reach the host's other addresses through the gateway", () => {
    const own = ipJson<Array<{ ifname: string; addr_info: Array<{ family: string; local: string; scope: string }> }>>(['-4', 'addr', 'show'])
      .filter((l) => l.ifname !== cfg.name && l.ifname !== 'lo')
      .flatMap((l) => l.addr_info.filter((x) => x.family === 'inet' && x.scope === 'global').map((x) => x.local));
    if (own.length === 0) return; // a host with no other address: nothing to check
    const r = ping(a, own[0]!);
    expect(r.status, r.out).toBe(0);
  });

  test('attachToBridge refuses bad input and leaves nothing behind on failure', () => {
    const vethC = `tsltc${tag}`;
    veths.add(vethC);
    expect(() => attachToBridge(cfg, a, '192.0.2.77', vethC)).toThrow(`address 192.0.2.77 is not a host address of ${cfg.subnet}`);
    expect(() => attachToBridge(cfg, a, cfg.gateway, vethC)).toThrow('is the gateway of bridge');
    expect(() => attachToBridge(cfg, process.pid, addressIn(cfg, 9), vethC)).toThrow("is in the host's network namespace");
    expect(() => attachToBridge(cfg, a, addressIn(cfg, 9), 'x'.repeat(16))).toThrow('must be 1 to 15 bytes long');
    // The namespace already has eth0: the veth cannot be made, and nothing is left on the host.
    expect(() => attachToBridge(cfg, a, addressIn(cfg, 9), vethC)).toThrow(/cannot create veth|exists/);
    expect(findLink(vethC)).toBeUndefined();
    expect(() => attachToBridge(cfg, 999_999_999, addressIn(cfg, 9), vethC)).toThrow('process 999999999 does not exist');
    expect(findLink(vethC)).toBeUndefined();
    expect(bridgePorts(cfg.name).sort()).toEqual([vethA, vethB].sort());
  });

  test('a failure after the veth exists (a default route already inside) removes the veth again', async () => {
    const c = await namespaceHolder();
    for (const args of [
      ['ip', 'link', 'set', 'lo', 'up'],
      ['ip', 'route', 'add', 'default', 'dev', 'lo'],
    ]) {
      const r = inNetns(c, args);
      expect(r.status, r.out).toBe(0);
    }
    const vethE = `tslte${tag}`;
    veths.add(vethE);
    expect(() => attachToBridge(cfg, c, addressIn(cfg, 9), vethE)).toThrow(/RTM_NEWROUTE default via .* dev eth0: EEXIST/);
    expect(findLink(vethE)).toBeUndefined();
    expect(bridgePorts(cfg.name).sort()).toEqual([vethA, vethB].sort());
  });

  test('removeBridgeIfUnused keeps a bridge in use; detach is idempotent; the unused bridge goes', () => {
    expect(removeBridgeIfUnused(cfg)).toBe(false);
    detachFromBridge(vethA);
    detachFromBridge(vethA);
    expect(findLink(vethA)).toBeUndefined();
    expect(inNetns(a, ['ip', 'link', 'show', 'eth0']).status).not.toBe(0); // the peer went with it
    expect(removeBridgeIfUnused(cfg)).toBe(false); // B is still there
    detachFromBridge(vethB);
    expect(removeBridgeIfUnused(cfg)).toBe(true);
    expect(findLink(cfg.name)).toBeUndefined();
    expect(removeBridgeIfUnused(cfg)).toBe(false);
  });

  test("when the namespace dies the kernel removes the veth, and detachFromBridge tolerates it", async () => {
    const c = await namespaceHolder();
    const vethD = `tsltd${tag}`;
    veths.add(vethD);
    attachToBridge(cfg, c, addressIn(cfg, 4), vethD); // re-creates the bridge removed above
    expect(findLink(cfg.name)?.linkinfo?.info_kind).toBe('bridge');
    const holder = sleepers.find((s) => s.pid === c)!;
    holder.kill('SIGKILL');
    await exited(holder);
    for (let i = 0; i < 300 && findLink(vethD); i++) await new Promise((r) => setTimeout(r, 10));
    expect(findLink(vethD)).toBeUndefined();
    expect(() => detachFromBridge(vethD)).not.toThrow();
    expect(removeBridgeIfUnused(cfg)).toBe(true);
  });
});

describe.skipIf(!isRoot)('subnets that clash with the host', () => {
  // A route of the machine's own: a bridge another test (or the Node 24 pass of this file, running alongside)
  // makes has a route that may be gone by the time the test runs.
  const hostRoute = ipJson<Array<{ dst: string; dev?: string }>>(['-4', 'route']).find((r) => r.dst !== 'default' && r.dst.includes('/') && !/^tsl/.test(r.dev ?? ''));

  test.skipIf(!hostRoute)("ensureBridge refuses a subnet overlapping a host route, naming TSLAB_SUBNET, and creates nothing", () => {
    const net = parseCidr(hostRoute!.dst, false);
    const name = `tslx${tag}`;
    bridges.add(name);
    const cfg = { name, subnet: `${formatIPv4(net.network)}/${net.prefixLength}`, gateway: formatIPv4(net.network + 1) };
    expect(() => ensureBridge(cfg)).toThrow(new RegExp(`^subnet .* for bridge ${name} overlaps the host's routes? ${hostRoute!.dst.replace(/\./g, '\\.')}.*set TSLAB_SUBNET`));
    expect(findLink(name)).toBeUndefined();
  });

  test.skipIf(!hostRoute)('defaultBridgeConfig refuses a TSLAB_SUBNET overlapping a host route', () => {
    const env = { TSLAB_SUBNET: hostRoute!.dst };
    expect(() => defaultBridgeConfig({ env })).toThrow(`TSLAB_SUBNET=${hostRoute!.dst} for bridge tslab0 overlaps the host's route`);
  });

  test('a free subnet passes the route check', () => {
    const subnet = freeTestSubnet(1);
    expect(defaultBridgeConfig({ env: { TSLAB_SUBNET: subnet } }).subnet).toBe(subnet);
  });

  test('an existing bridge with another address is reported, not changed', () => {
    const cfg = testConfig(`tsly${tag}`, 2);
    ensureBridge(cfg);
    const other = freeTestSubnet(3);
    expect(() => ensureBridge({ ...cfg, subnet: other, gateway: formatIPv4(parseCidr(other).network + 1) })).toThrow(
      `bridge ${cfg.name} already has ${cfg.gateway}/24, not`,
    );
    expect(removeBridgeIfUnused(cfg)).toBe(true);
  });
});
