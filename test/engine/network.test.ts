// `--network bridge` (the default): containers on the bridge tslab0 reach each other and the host's gateway
// address, the IPAM never hands out one address twice (even to concurrent runs), the bridge goes with its
// last container, and -p publishes a container port on the host through the port proxy.
import * as net from 'node:net';
import { describe, expect, test } from 'vitest';
import { parseCidr, parseIPv4, subnetContains } from '../../src/net/bridge.js';
import { BRIDGE, alive, describeResult, engineScope, freePort, linkExists, sleep, vethNames } from './engine-env.js';

const e = engineScope('network');
const SUBNET = process.env.TSLAB_SUBNET?.trim() || '172.29.0.0/16';

/** The host side answers at the first address of the subnet. */
function gatewayOf(subnet: string): string {
  const n = parseCidr(subnet).network + 1;
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

async function httpGet(port: number, path: string, timeoutMs = 10_000): Promise<{ status: number; body: string }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(2000) });
      return { status: res.status, body: await res.text() };
    } catch (err) {
      // httpd may not listen yet: the proxy accepts, the container refuses, the connection closes.
      if (Date.now() > deadline) throw err;
      await sleep(100);
    }
  }
}

function connectRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

describe('the bridge', () => {
  test('two containers ping each other and the gateway; the bridge is removed with the last one', async () => {
    await e.ok(['run', '-d', '--name', 'left', 'busybox', 'sleep', '60']);
    await e.ok(['run', '-d', '--name', 'right', 'busybox', 'sleep', '60']);
    const [left, right] = [await e.inspect('left'), await e.inspect('right')];
    const subnet = parseCidr(SUBNET);
    for (const c of [left, right]) {
      expect(c.network.mode).toBe('bridge');
      expect(subnetContains(subnet, parseIPv4(c.network.address!)!)).toBe(true);
      expect(c.network.gateway).toBe(gatewayOf(SUBNET));
      expect(vethNames()).toContain(c.network.hostVeth);
    }
    expect(left.network.address).not.toBe(right.network.address);
    expect(linkExists(BRIDGE)).toBe(true);

    // eth0 inside has the address inspect reports
    expect(await e.ok(['exec', 'left', 'ip', '-o', '-4', 'addr', 'show', 'dev', 'eth0'])).toContain(`inet ${left.network.address}/`);
    for (const [from, to] of [['left', right.network.address!], ['right', left.network.address!], ['left', gatewayOf(SUBNET)]]) {
      const ping = await e.tslab(['exec', from, 'ping', '-c', '1', '-W', '3', to]);
      expect(ping.code, `${from} -> ${to}: ${describeResult(ping)}`).toBe(0);
      expect(ping.stdout).toMatch(/1 packets received/);
    }

    await e.ok(['rm', '-f', 'left']);
    expect(linkExists(BRIDGE)).toBe(true); // right still uses it
    expect(vethNames()).not.toContain(left.network.hostVeth);
    await e.ok(['rm', '-f', 'right']);
    expect(linkExists(BRIDGE)).toBe(false);
    expect(vethNames()).not.toContain(right.network.hostVeth);
  });

  test('IPAM: five concurrent run -d get five different addresses', async () => {
    const runs = await Promise.all([1, 2, 3, 4, 5].map((i) => e.tslab(['run', '-d', '--name', `par${i}`, 'busybox', 'sleep', '60'])));
    for (const r of runs) expect(r.code, describeResult(r)).toBe(0);
    const infos = await Promise.all([1, 2, 3, 4, 5].map((i) => e.inspect(`par${i}`)));
    const addresses = infos.map((c) => c.network.address);
    expect(addresses.every((a) => a !== undefined && subnetContains(parseCidr(SUBNET), parseIPv4(a)!))).toBe(true);
    expect(new Set(addresses).size).toBe(5);
    expect(new Set(infos.map((c) => c.network.hostVeth)).size).toBe(5);
    // every one is really up with its address: the last reaches the first
    const ping = await e.tslab(['exec', 'par5', 'ping', '-c', '1', '-W', '3', addresses[0]!]);
    expect(ping.code, describeResult(ping)).toBe(0);
    await e.ok(['rm', '-f', 'par1', 'par2', 'par3', 'par4', 'par5']);
    expect(linkExists(BRIDGE)).toBe(false);
  });
});

describe('-p HOSTPORT:PORT', () => {
  test('busybox httpd in the container answers on 127.0.0.1:HOSTPORT; the proxy goes with the container', async () => {
    const port = await freePort();
    const script = 'mkdir -p /www && echo "hello from the container" > /www/index.html && exec httpd -f -p 80 -h /www';
    await e.ok(['run', '-d', '--name', 'web', '-p', `${port}:80`, 'busybox', 'sh', '-c', script]);
    const info = await e.inspect('web');
    expect(info.ports).toEqual([expect.objectContaining({ hostPort: port, containerPort: 80 })]);
    expect(info.proxies).toHaveLength(1);
    expect((await e.ok(['ps'])).split('\n').find((l) => l.includes('web'))).toContain(`0.0.0.0:${port}->80/tcp`);

    const res = await httpGet(port, '/index.html');
    expect(res.status).toBe(200);
    expect(res.body).toBe('hello from the container\n');

    await e.ok(['rm', '-f', 'web']);
    expect(alive(info.proxies[0].pid)).toBe(false);
    expect(await connectRefused(port)).toBe(true);
  });

  test('-p with --network none is refused (125), nothing is left', async () => {
    const port = await freePort();
    const r = await e.tslab(['run', '--rm', '--network', 'none', '-p', `${port}:80`, 'busybox', 'true']);
    expect(await e.psAll()).toEqual([]);
    expect(r.stderr).toMatch(/-p needs --network bridge/);
    expect(r.code, describeResult(r)).toBe(125);
  });

  test('a host port in use is refused with a clear message, and the container is not left running', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const r = await e.tslab(['run', '--rm', '-p', `${port}:80`, 'busybox', 'sleep', '30']);
      expect(r.stderr).toMatch(new RegExp(`host port ${port} is already in use`));
      expect(r.code, describeResult(r)).toBe(125);
      expect(await e.psAll()).toEqual([]);
      expect(linkExists(BRIDGE)).toBe(false);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
