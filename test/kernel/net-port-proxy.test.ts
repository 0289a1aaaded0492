// `-p` against the real kernel: a busybox httpd and a `cat` echo server inside a network namespace on a
// test bridge, reached through the userspace proxy on 127.0.0.1 (the proxy program is bundled here with
// esbuild, as build.mjs bundles it for dist/). A port in use, half-closed connections, stopping, and a
// proxy that exits by itself when the process it watches is gone. Everything made here is removed.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildSync } from 'esbuild';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type BridgeConfig, NET_LOCK_FILE, formatIPv4, overlappingRoutes, parseCidr, removeBridgeIfUnused } from '../../src/net/bridge.js';
import { attachToBridge, detachFromBridge } from '../../src/net/container-net.js';
import { PortMappingError, startPortProxy, stopPortProxy } from '../../src/net/port-proxy.js';
import { deleteLink } from '../helpers/ip.js';
import { isAlive, readProcStat } from '../../src/linux/proc.js';
import { exited } from '../helpers/kernel-tests.js';
import { REPO_ROOT } from '../helpers/runtime.js';

const isRoot = process.getuid?.() === 0;

/** A /24 in 10.213.0.0/16 - 10.250.0.0/16 that no route of the host overlaps, different per test process. */
function freeTestSubnet(salt: number): string {
  for (let i = 0; i < 10_000; i++) {
    const n = (process.pid * 7 + salt * 131 + i) % (38 * 256);
    const subnet = `10.${213 + Math.floor(n / 256)}.${n % 256}.0/24`;
    if (overlappingRoutes(parseCidr(subnet), '').length === 0) return subnet;
  }
  throw new Error('no free /24 for the test');
}
const tag = String(process.pid).slice(-7);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-net-proxy-'));
const proxyScript = path.join(work, 'port-proxy-main.cjs');
const lockExisted = fs.existsSync(NET_LOCK_FILE);
const children: ChildProcess[] = [];
const proxies: Array<{ pid: number; startTime: number }> = [];
const subnet = isRoot ? freeTestSubnet(11) : '10.213.0.0/24';
const cfg: BridgeConfig = { name: `tslp${tag}`, subnet, gateway: formatIPv4(parseCidr(subnet).network + 1) };
const veth = `tslpa${tag}`;
const address = formatIPv4(parseCidr(subnet).network + 2);
let holder = 0;

function startChild(cmd: string, args: string[]): ChildProcess {
  const c = spawn(cmd, args, { stdio: 'ignore' });
  children.push(c);
  return c;
}

/** Pids whose command line contains `text`. */
function processesMentioning(text: string): number[] {
  return fs
    .readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(text);
      } catch {
        return false;
      }
    })
    .map(Number);
}

/**
 * A free port outside the kernel's ephemeral range: no outgoing connection on the machine (another test's,
 * another program's) can be given it between this check and the proxy's bind, or after the proxy frees it.
 */
async function freePort(): Promise<number> {
  const [low] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
  for (let tries = 0; tries < 100; tries++) {
    const port = 10000 + Math.floor(Math.random() * (low - 10000));
    const s = net.createServer();
    const bound = await new Promise<boolean>((resolve) => {
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (bound) {
      await new Promise((r) => s.close(r));
      return port;
    }
  }
  throw new Error(`no free port between 10000 and ${low}`);
}

function httpGet(port: number, file: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: `/${file}`, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
  });
}

/** Retries while the server inside may still be starting (the proxy then closes the client's connection). */
async function httpGetEventually(port: number, file: string): Promise<{ status: number; body: string }> {
  let last: unknown;
  for (let i = 0; i < 50; i++) {
    try {
      return await httpGet(port, file);
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw last;
}

/** Sends `data`, half-closes, and collects everything until the server closes its side. */
function echo(port: number, data: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    let got = '';
    s.on('data', (d: Buffer) => (got += d.toString()));
    s.on('end', () => {
      s.end();
      resolve(got);
    });
    s.on('error', reject);
    s.setTimeout(5000, () => s.destroy(new Error('timeout')));
    s.on('connect', () => s.end(data));
  });
}

beforeAll(async () => {
  buildSync({
    entryPoints: [path.join(REPO_ROOT, 'src/net/port-proxy-main.ts')],
    outfile: proxyScript,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    logLevel: 'warning',
  });
  if (!isRoot) return;
  const h = startChild('unshare', ['--net', 'sleep', '1000']);
  const own = fs.readlinkSync('/proc/self/ns/net');
  for (let i = 0; i < 500 && !holder; i++) {
    try {
      if (fs.readlinkSync(`/proc/${h.pid}/ns/net`) !== own) holder = h.pid!;
    } catch {
      /* not yet */
    }
    if (!holder) await new Promise((r) => setTimeout(r, 10));
  }
  attachToBridge(cfg, holder, address, veth);
  const www = path.join(work, 'www');
  fs.mkdirSync(www);
  fs.writeFileSync(path.join(www, 'hello.txt'), 'hello from the container\n');
  startChild('nsenter', [`--net=/proc/${holder}/ns/net`, 'busybox', 'httpd', '-f', '-p', '80', '-h', www]);
  startChild('nsenter', [`--net=/proc/${holder}/ns/net`, 'busybox', 'nc', '-ll', '-p', '81', '-e', 'cat']);
});

afterAll(async () => {
  for (const p of proxies) stopPortProxy(p);
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGKILL');
      await exited(c).catch(() => undefined);
    }
  }
  if (isRoot) {
    detachFromBridge(veth);
    removeBridgeIfUnused(cfg);
    deleteLink(cfg.name);
  }
  if (!lockExisted) fs.rmSync(NET_LOCK_FILE, { force: true });
  fs.rmSync(work, { recursive: true, force: true });
});

describe.skipIf(!isRoot)('the port proxy', () => {
  test('forwards a host port on 127.0.0.1 to a server in the container, for many clients at once', async () => {
    const port = await freePort();
    const proxy = startPortProxy({ hostPort: port, containerPort: 80, protocol: 'tcp', hostAddress: '127.0.0.1' }, address, proxyScript);
    proxies.push(proxy);
    expect(readProcStat(proxy.pid)?.startTime).toBe(proxy.startTime);
    expect(processesMentioning(`127.0.0.1:${port}->80/tcp`)).toEqual([proxy.pid]);
    expect(await httpGetEventually(port, 'hello.txt')).toEqual({ status: 200, body: 'hello from the container\n' });
    const many = await Promise.all(Array.from({ length: 10 }, () => httpGet(port, 'hello.txt')));
    expect(many.every((r) => r.status === 200 && r.body === 'hello from the container\n')).toBe(true);
    expect((await httpGet(port, 'missing.txt')).status).toBe(404);
  });

  test('a half-closed connection still gets the whole answer (echo through cat)', async () => {
    const port = await freePort();
    proxies.push(startPortProxy({ hostPort: port, containerPort: 81, protocol: 'tcp', hostAddress: '127.0.0.1' }, address, proxyScript));
    const text = 'x'.repeat(100_000) + '\nend\n';
    let got = '';
    for (let i = 0; i < 50 && got !== text; i++) {
      got = await echo(port, text).catch(() => '');
      if (got !== text) await new Promise((r) => setTimeout(r, 100));
    }
    expect(got).toBe(text);
  });

  test('a port in use is a clear error, and no proxy process is started for it', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      let caught: unknown;
      try {
        proxies.push(startPortProxy({ hostPort: port, containerPort: 80, protocol: 'tcp', hostAddress: '127.0.0.1' }, address, proxyScript));
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(PortMappingError);
      expect((caught as Error).message).toBe(
        `host port ${port} is already in use (127.0.0.1:${port}; by another container's -p or a program on the host): choose another host port`,
      );
      expect(processesMentioning(`127.0.0.1:${port}->`)).toEqual([]); // nothing was spawned
    } finally {
      await new Promise((r) => blocker.close(r));
    }
    expect(() => startPortProxy({ hostPort: 8080, containerPort: 80, protocol: 'tcp' }, 'not-an-ip', proxyScript)).toThrow('container address "not-an-ip"');
    expect(() => startPortProxy({ hostPort: 8080, containerPort: 80, protocol: 'tcp' }, address, path.join(work, 'nope.cjs'))).toThrow('does not exist');
  });

  test('stopPortProxy ends the proxy and frees the port', async () => {
    const port = await freePort();
    const proxy = startPortProxy({ hostPort: port, containerPort: 80, protocol: 'tcp', hostAddress: '127.0.0.1' }, address, proxyScript);
    proxies.push(proxy);
    expect((await httpGetEventually(port, 'hello.txt')).status).toBe(200);
    expect(stopPortProxy(proxy)).toBe(true);
    expect(isAlive(proxy.pid, proxy.startTime)).toBe(false);
    expect(stopPortProxy(proxy)).toBe(false);
    const again = net.createServer();
    await new Promise<void>((resolve, reject) => {
      again.once('error', reject);
      again.listen(port, '127.0.0.1', resolve);
    });
    await new Promise((r) => again.close(r));
  });

  test('a proxy watching a process exits by itself once that process is gone', async () => {
    const watched = startChild('sleep', ['1000']);
    await new Promise((r) => setTimeout(r, 50));
    const watch = { pid: watched.pid!, startTime: readProcStat(watched.pid!)!.startTime };
    const port = await freePort();
    const proxy = startPortProxy({ hostPort: port, containerPort: 80, protocol: 'tcp', hostAddress: '127.0.0.1' }, address, proxyScript, { watch });
    proxies.push(proxy);
    await new Promise((r) => setTimeout(r, 1500));
    expect(isAlive(proxy.pid, proxy.startTime)).toBe(true);
    watched.kill('SIGKILL');
    await exited(watched);
    let alive = true;
    for (let i = 0; i < 40 && alive; i++) {
      await new Promise((r) => setTimeout(r, 100));
      alive = isAlive(proxy.pid, proxy.startTime);
    }
    expect(alive).toBe(false);
  });
});
