// rtnetlink against the real kernel: bridges and veth pairs made, read back and deleted through
// src/linux/netlink.ts, a veth peer born inside the network namespace of an `unshare --net sleep` child
// with an address and a default route there, and every result checked again with `ip -j` (an independent
// reader). Refusals carry the kernel's errno name. Each test removes what it made; afterAll is a safety net.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { SyscallError } from '../../src/linux/error.js';
import {
  type NetlinkRoute,
  addDefaultRoute,
  addIPv4Address,
  createBridge,
  createVethPair,
  getLink,
  listIPv4Addresses,
  listIPv4Routes,
  listLinks,
  openRouteSocket,
  removeLink,
  setLinkMaster,
  setLinkUp,
  withRouteSocket,
} from '../../src/linux/netlink.js';
import { exited } from '../helpers/kernel-tests.js';

const isRoot = process.getuid?.() === 0;
const prefix = `tslnl${randomBytes(3).toString('hex')}`; // 11 bytes: room for a one-letter role
const name = (role: string): string => `${prefix}${role}`;
let holder: ChildProcess | undefined;

/** `ip -j ARGS` (in the network namespace of `pid` if given), parsed; [] when the device is not there. */
function ipJson<T>(args: string[], pid?: number): T[] {
  const [cmd, argv] = pid === undefined ? ['ip', ['-j', ...args]] : ['nsenter', [`--net=/proc/${pid}/ns/net`, 'ip', '-j', ...args]];
  try {
    const out = execFileSync(cmd, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
    return out ? (JSON.parse(out) as T[]) : [];
  } catch {
    return [];
  }
}

/** The refusal `fn` throws, as a SyscallError (fails the test if it throws nothing or something else). */
function refusal(fn: () => unknown): SyscallError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SyscallError);
    return err as SyscallError;
  }
  throw new Error('expected a SyscallError, nothing was thrown');
}

/** Runs `use` on a host route socket, then deletes the named host interfaces whatever happened. */
function onHost(made: string[], use: (sock: number) => void): void {
  withRouteSocket((sock) => {
    try {
      use(sock);
    } finally {
      for (const n of made) if (getLink(sock, n)) removeLink(sock, n);
    }
  });
}

const threadNetns = (): string => fs.readlinkSync('/proc/thread-self/ns/net');

/** Routes as "destination/len dev table", ours and ip's alike, sorted. */
const routeKeys = (routes: NetlinkRoute[]): string[] => routes.map((r) => `${r.destination}/${r.prefixLength} ${r.device ?? '-'} ${r.table}`).sort();

interface IpRoute {
  dst: string;
  dev?: string;
  table?: string;
}
const TABLES: Record<string, number> = { main: 254, local: 255, default: 253 };
const ipRouteKeys = (routes: IpRoute[]): string[] =>
  routes
    .map((r) => {
      const dst = r.dst === 'default' ? '0.0.0.0/0' : r.dst.includes('/') ? r.dst : `${r.dst}/32`;
      return `${dst} ${r.dev ?? '-'} ${TABLES[r.table ?? 'main'] ?? Number(r.table)}`;
    })
    .sort();

afterAll(async () => {
  for (const l of ipJson<{ ifname: string }>(['link', 'show'])) {
    if (l.ifname.startsWith(prefix)) execFileSync('ip', ['link', 'del', 'dev', l.ifname]);
  }
  if (holder && holder.exitCode === null && holder.signalCode === null) {
    process.kill(holder.pid!, 'SIGKILL');
    await exited(holder);
  }
});

describe.skipIf(!isRoot)('links in this network namespace', () => {
  test('a bridge: made with its MAC, STP off and no forwarding delay; read back, brought up, deleted', () => {
    const br = name('b');
    const mac = '02:6e:6c:00:00:01';
    onHost([br], (sock) => {
      createBridge(sock, br, mac);
      const link = getLink(sock, br)!;
      expect(link).toMatchObject({ name: br, kind: 'bridge', mac, up: false });
      expect(link.masterIndex).toBeUndefined();
      expect(listLinks(sock).find((l) => l.name === br)).toEqual(link);

      const [seen] = ipJson<{ ifindex: number; address: string; linkinfo: { info_kind: string; info_data: Record<string, number> } }>(['-d', 'link', 'show', 'dev', br]);
      expect(seen).toMatchObject({ ifindex: link.index, address: mac, linkinfo: { info_kind: 'bridge', info_data: { stp_state: 0, forward_delay: 0 } } });

      setLinkUp(sock, br);
      expect(getLink(sock, br)!.up).toBe(true);
      expect(ipJson<{ flags: string[] }>(['link', 'show', 'dev', br])[0]!.flags).toContain('UP');

      removeLink(sock, br);
      expect(getLink(sock, br)).toBeUndefined();
      expect(ipJson(['link', 'show', 'dev', br])).toEqual([]);
    });
  });

  test('a veth pair: both ends read back, one made a port of a bridge; deleting one end deletes both', () => {
    const [br, a, b] = [name('b'), name('a'), name('p')];
    onHost([a, br], (sock) => {
      createBridge(sock, br, '02:6e:6c:00:00:02');
      createVethPair(sock, a, b);
      expect(getLink(sock, a)).toMatchObject({ name: a, kind: 'veth' });
      expect(getLink(sock, b)).toMatchObject({ name: b, kind: 'veth' });

      setLinkMaster(sock, a, br);
      expect(getLink(sock, a)!.masterIndex).toBe(getLink(sock, br)!.index);
      expect(ipJson<{ ifname: string }>(['link', 'show', 'master', br]).map((l) => l.ifname)).toEqual([a]);

      removeLink(sock, a);
      expect(getLink(sock, a)).toBeUndefined();
      expect(getLink(sock, b)).toBeUndefined();
      expect(ipJson(['link', 'show', 'dev', b])).toEqual([]);
    });
  });

  test('refusals carry the errno name, the message type and the object', () => {
    const [br, missing] = [name('b'), name('x')];
    onHost([br], (sock) => {
      createBridge(sock, br, '02:6e:6c:00:00:03');
      const exists = refusal(() => createBridge(sock, br, '02:6e:6c:00:00:03'));
      expect(exists).toMatchObject({ code: 'EEXIST', syscall: 'RTM_NEWLINK', path: br });
      expect(exists.message).toMatch(/^RTM_NEWLINK tslnl\w+: EEXIST — an interface of that name exists already/);

      expect(getLink(sock, missing)).toBeUndefined();
      expect(refusal(() => removeLink(sock, missing))).toMatchObject({ code: 'ENODEV', syscall: 'RTM_DELLINK', path: missing });
      expect(refusal(() => setLinkUp(sock, missing))).toMatchObject({ code: 'ENODEV', syscall: 'RTM_NEWLINK' });
      expect(refusal(() => setLinkMaster(sock, br, missing))).toMatchObject({ code: 'ENODEV', path: missing });
      expect(refusal(() => addIPv4Address(sock, missing, '198.18.0.1', 24))).toMatchObject({ code: 'ENODEV', syscall: 'RTM_NEWADDR' });
      expect(refusal(() => listIPv4Addresses(sock, missing))).toMatchObject({ code: 'ENODEV' });
      expect(refusal(() => addDefaultRoute(sock, '198.18.0.1', missing))).toMatchObject({ code: 'ENODEV', syscall: 'RTM_NEWROUTE' });

      expect(refusal(() => createBridge(sock, 'x'.repeat(16), '02:6e:6c:00:00:04'))).toMatchObject({ code: 'EINVAL' });
      expect(refusal(() => createBridge(sock, name('m'), 'not-a-mac'))).toMatchObject({ code: 'EINVAL' });
      expect(getLink(sock, name('m'))).toBeUndefined();
    });
  });

  test("the host's IPv4 routes of every table are what `ip -4 route show table all` lists", () => {
    // Read twice around ip's look: a route that changed meanwhile (another container) is not a failure.
    const ours = () => routeKeys(withRouteSocket(listIPv4Routes));
    const before = ours();
    const theirs = ipRouteKeys(ipJson<IpRoute>(['-4', 'route', 'show', 'table', 'all']));
    expect([before, ours()]).toContainEqual(theirs);
  });
});

describe.skipIf(!isRoot)("inside another process's network namespace", () => {
  let pid: number;
  const hostEnd = name('h');
  const inside = <T>(use: (sock: number) => T): T => withRouteSocket(use, pid);

  beforeAll(async () => {
    holder = spawn('unshare', ['--net', 'sleep', '60'], { stdio: 'ignore' });
    const own = threadNetns();
    for (let i = 0; i < 500; i++) {
      try {
        if (fs.readlinkSync(`/proc/${holder.pid}/ns/net`) !== own) break;
      } catch {
        /* not yet */
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    pid = holder.pid!;
  });

  test('a socket of their namespace sees their links; this thread stays in its own namespace', () => {
    const own = threadNetns();
    const sock = openRouteSocket(pid);
    try {
      expect(threadNetns()).toBe(own);
      expect(listLinks(sock).map((l) => l.name)).toEqual(['lo']);
    } finally {
      fs.closeSync(sock);
    }
    expect(refusal(() => openRouteSocket(999_999_999))).toMatchObject({ code: 'ENOENT', path: '/proc/999999999/ns/net' });
    expect(threadNetns()).toBe(own);
  });

  test('a veth peer born as eth0 in their namespace, with an address, up, and a default route there', () => {
    onHost([hostEnd], (host) => {
      createVethPair(host, hostEnd, 'eth0', pid);
      setLinkUp(host, hostEnd);
      expect(getLink(host, hostEnd)).toMatchObject({ kind: 'veth', up: true });

      inside((sock) => {
        expect(getLink(sock, 'eth0')).toMatchObject({ kind: 'veth', up: false });
        addIPv4Address(sock, 'eth0', '10.77.0.2', 24);
        setLinkUp(sock, 'eth0');
        setLinkUp(sock, 'lo');
        addDefaultRoute(sock, '10.77.0.1', 'eth0');

        // As `ip addr add` without `brd`: no broadcast address.
        expect(listIPv4Addresses(sock, 'eth0')).toEqual([{ index: getLink(sock, 'eth0')!.index, address: '10.77.0.2', prefixLength: 24, broadcast: undefined }]);
        const [eth0] = ipJson<{ flags: string[]; addr_info: Array<{ family: string; local: string; prefixlen: number; broadcast?: string }> }>(['addr', 'show', 'dev', 'eth0'], pid);
        expect(eth0!.flags).toContain('UP');
        expect(eth0!.addr_info.filter((a) => a.family === 'inet')).toMatchObject([{ local: '10.77.0.2', prefixlen: 24 }]);
        expect(eth0!.addr_info[0]!.broadcast).toBeUndefined();

        const routes = listIPv4Routes(sock);
        expect(routes).toContainEqual({ destination: '0.0.0.0', prefixLength: 0, table: 254, type: 'unicast', gateway: '10.77.0.1', device: 'eth0' });
        expect(routes).toContainEqual(expect.objectContaining({ destination: '10.77.0.2', prefixLength: 32, table: 255, type: 'local', device: 'eth0' }));
        expect(routeKeys(routes)).toEqual(ipRouteKeys(ipJson<IpRoute>(['-4', 'route', 'show', 'table', 'all'], pid)));
        expect(ipJson<{ dst: string; gateway?: string; dev: string }>(['route'], pid)).toContainEqual(expect.objectContaining({ dst: 'default', gateway: '10.77.0.1', dev: 'eth0' }));
      });

      // eth0 exists in their namespace now: a second pair with the same peer name is refused, and no
      // host end is left behind.
      const clash = refusal(() => createVethPair(host, name('c'), 'eth0', pid));
      expect(clash).toMatchObject({ code: 'EEXIST', syscall: 'RTM_NEWLINK' });
      expect(getLink(host, name('c'))).toBeUndefined();
      inside((sock) => {
        expect(refusal(() => addIPv4Address(sock, 'eth0', '10.77.0.2', 24))).toMatchObject({ code: 'EEXIST', syscall: 'RTM_NEWADDR' });
        const route = refusal(() => addDefaultRoute(sock, '10.77.0.1', 'eth0'));
        expect(route).toMatchObject({ code: 'EEXIST', path: 'default via 10.77.0.1 dev eth0' });
      });

      removeLink(host, hostEnd);
      inside((sock) => expect(getLink(sock, 'eth0')).toBeUndefined());
    });
  });
});
