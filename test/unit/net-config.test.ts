// The pure parts of `tslab run`'s networking: IPv4/CIDR arithmetic and bridge configuration checks,
// `-p` parsing, `--network` parsing, veth names, and the /etc files written into a (temp) rootfs.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  DEFAULT_SUBNET,
  defaultBridgeConfig,
  formatIPv4,
  hostRange,
  parseCidr,
  parseIPv4,
  subnetsOverlap,
  validateBridgeConfig,
} from '../../src/net/bridge.js';
import { hostsFile, resolvConf, writeEtcFiles } from '../../src/net/etc-files.js';
import { PortMappingError, formatPortMapping, parsePortMapping } from '../../src/net/port-proxy.js';
import { NetworkSetupError } from '../../src/net/veth.js';

describe('IPv4 and CIDR arithmetic', () => {
  test('addresses parse strictly and format back', () => {
    expect(parseIPv4('172.29.0.1')).toBe(0xac1d0001);
    expect(formatIPv4(0xac1d0001)).toBe('172.29.0.1');
    expect(formatIPv4(0xffffffff)).toBe('255.255.255.255');
    for (const bad of ['1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1.2.3.x', '', '1..2.3']) expect(parseIPv4(bad)).toBeUndefined();
  });

  test('subnets: network address, size, host range, overlap', () => {
    const s = parseCidr('10.88.0.0/16');
    expect(s).toEqual({ network: parseIPv4('10.88.0.0'), prefixLength: 16, size: 65536 });
    expect(hostRange(parseCidr('10.1.2.0/24'))).toEqual({ first: parseIPv4('10.1.2.1'), last: parseIPv4('10.1.2.254') });
    expect(subnetsOverlap(parseCidr('10.0.0.0/8'), parseCidr('10.5.0.0/16'))).toBe(true);
    expect(subnetsOverlap(parseCidr('10.5.1.0/24'), parseCidr('10.5.0.0/16'))).toBe(true);
    expect(subnetsOverlap(parseCidr('10.5.1.0/24'), parseCidr('10.5.2.0/24'))).toBe(false);
    expect(() => parseCidr('10.88.0.5/16')).toThrow('"10.88.0.5/16" has host bits set: the subnet is 10.88.0.0/16');
    expect(parseCidr('10.88.0.5/16', false).network).toBe(parseIPv4('10.88.0.0'));
    expect(() => parseCidr('10.88.0.0')).toThrow(NetworkSetupError);
    expect(() => parseCidr('10.88.0.0/33')).toThrow('is not an IPv4 subnet');
  });

  test('a bridge configuration is checked: name, subnet size and range, gateway inside', () => {
    const ok = { name: 'tslab0', subnet: '10.88.0.0/24', gateway: '10.88.0.1' };
    expect(validateBridgeConfig(ok).prefixLength).toBe(24);
    expect(() => validateBridgeConfig({ ...ok, name: 'a-name-longer-than-15' })).toThrow('must be 1 to 15 bytes long');
    expect(() => validateBridgeConfig({ ...ok, subnet: '10.88.0.0/31' })).toThrow('between /8 and /30');
    expect(() => validateBridgeConfig({ ...ok, subnet: '127.0.0.0/8', gateway: '127.0.0.1' })).toThrow('not usable for containers');
    expect(() => validateBridgeConfig({ ...ok, gateway: '10.88.1.1' })).toThrow('gateway 10.88.1.1 is not a host address of subnet 10.88.0.0/24');
    expect(() => validateBridgeConfig({ ...ok, gateway: '10.88.0.255' })).toThrow('is not a host address');
  });

  test('the default configuration: tslab0, 172.29.0.0/16 or $TSLAB_SUBNET, gateway the first host address', () => {
    expect(defaultBridgeConfig({ checkRoutes: false, env: {} })).toEqual({ name: 'tslab0', subnet: DEFAULT_SUBNET, gateway: '172.29.0.1' });
    expect(defaultBridgeConfig({ checkRoutes: false, env: { TSLAB_SUBNET: ' 10.213.4.0/24 ' } })).toEqual({
      name: 'tslab0',
      subnet: '10.213.4.0/24',
      gateway: '10.213.4.1',
    });
    expect(() => defaultBridgeConfig({ checkRoutes: false, env: { TSLAB_SUBNET: 'ten' } })).toThrow(/^TSLAB_SUBNET: "ten" is not an IPv4 subnet/);
    expect(() => defaultBridgeConfig({ checkRoutes: false, env: { TSLAB_SUBNET: '10.0.0.0/31' } })).toThrow(/^TSLAB_SUBNET: .*between \/8 and \/30/);
  });
});

describe('parsePortMapping', () => {
  test('HOST:CONTAINER, with /tcp, with a host address', () => {
    expect(parsePortMapping('8080:80')).toEqual({ hostPort: 8080, containerPort: 80, protocol: 'tcp' });
    expect(parsePortMapping('8080:80/tcp')).toEqual({ hostPort: 8080, containerPort: 80, protocol: 'tcp' });
    expect(parsePortMapping('8080:80/TCP')).toEqual({ hostPort: 8080, containerPort: 80, protocol: 'tcp' });
    expect(parsePortMapping('127.0.0.1:8080:80')).toEqual({ hostPort: 8080, containerPort: 80, protocol: 'tcp', hostAddress: '127.0.0.1' });
    expect(formatPortMapping(parsePortMapping('8080:80'))).toBe('0.0.0.0:8080->80/tcp');
  });

  test.each([
    ['', '-p needs HOST_PORT:CONTAINER_PORT, for example -p 8080:80'],
    ['80', '-p 80: give the host port too, as HOST_PORT:CONTAINER_PORT (for example -p 8080:80)'],
    ['8080:80/udp', '-p 8080:80/udp: only tcp is forwarded (the port proxy does not relay udp)'],
    ['8080:80/icmp', '-p 8080:80/icmp: unknown protocol "icmp" (only tcp is supported)'],
    ['0:80', '-p 0:80: host port "0" must be a number from 1 to 65535'],
    ['8080:65536', '-p 8080:65536: container port "65536" must be a number from 1 to 65535'],
    ['http:80', '-p http:80: host port "http" must be a number from 1 to 65535'],
    ['8080:', '-p 8080:: container port "" must be a number from 1 to 65535'],
    ['8000-8010:80', '-p 8000-8010:80: port ranges are not supported; give one host port per -p'],
    ['localhost:8080:80', '-p localhost:8080:80: host address "localhost" is not an IPv4 address'],
    ['::1:8080:80', '-p ::1:8080:80: expected [HOST_ADDRESS:]HOST_PORT:CONTAINER_PORT[/tcp] (IPv6 host addresses are not supported)'],
  ])('%j is refused with a message', (spec, message) => {
    expect(() => parsePortMapping(spec)).toThrow(PortMappingError);
    expect(() => parsePortMapping(spec)).toThrow(message);
  });
});

describe('/etc files', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-net-etc-'));
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const write = (file: string, text: string): string => {
    const p = path.join(tmp, file);
    fs.writeFileSync(p, text);
    return p;
  };

  test('hosts: localhost, then the own name on the own address (or on 127.0.0.1 without one), then extra entries', () => {
    expect(hostsFile({ hostname: 'web', address: '172.29.0.2', extraHosts: [['db', '172.29.0.3']] })).toBe(
      '# written by tslab\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n172.29.0.2\tweb\n172.29.0.3\tdb\n',
    );
    expect(hostsFile({ hostname: 'alone' })).toBe('# written by tslab\n127.0.0.1\tlocalhost alone\n::1\tlocalhost ip6-localhost ip6-loopback\n');
  });

  test('resolv.conf: the host nameservers except loopback and IPv6 ones, with search and options; the next source when none is left', () => {
    const stub = write('stub', 'nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch lan\n');
    const real = write('real', '# comment\nnameserver 192.0.2.53\nnameserver fd00::53\nnameserver 198.51.100.1\nsearch example.org\n');
    expect(resolvConf([stub, real])).toBe(
      `# written by tslab from the host's ${real}\nsearch example.org\nnameserver 192.0.2.53\nnameserver 198.51.100.1\n`,
    );
    expect(resolvConf([stub, path.join(tmp, 'missing')])).toBe('# written by tslab: the host has no nameserver a container can use\n');
  });

  test('writeEtcFiles writes the three files, replacing symlinks instead of following them out of the rootfs', () => {
    const rootfs = path.join(tmp, 'rootfs');
    fs.mkdirSync(path.join(rootfs, 'etc'), { recursive: true });
    const outside = write('outside', 'host file\n');
    fs.symlinkSync(outside, path.join(rootfs, 'etc/resolv.conf'));
    fs.symlinkSync(outside, path.join(rootfs, 'etc/hosts'));
    const source = write('resolv', 'nameserver 192.0.2.53\n');

    writeEtcFiles(rootfs, { hostname: 'c1', address: '10.213.0.2', resolvConfSources: [source] });
    expect(fs.readFileSync(outside, 'utf8')).toBe('host file\n');
    expect(fs.readFileSync(path.join(rootfs, 'etc/hostname'), 'utf8')).toBe('c1\n');
    expect(fs.readFileSync(path.join(rootfs, 'etc/hosts'), 'utf8')).toContain('10.213.0.2\tc1\n');
    expect(fs.lstatSync(path.join(rootfs, 'etc/resolv.conf')).isSymbolicLink()).toBe(false);
    expect(fs.readFileSync(path.join(rootfs, 'etc/resolv.conf'), 'utf8')).toContain('nameserver 192.0.2.53\n');
    expect(fs.statSync(path.join(rootfs, 'etc/hosts')).mode & 0o777).toBe(0o644);
    expect(fs.readdirSync(path.join(rootfs, 'etc')).sort()).toEqual(['hostname', 'hosts', 'resolv.conf']);
  });

  test('an /etc that is an absolute symlink resolves inside the rootfs; a missing /etc is created', () => {
    const rootfs = path.join(tmp, 'rootfs');
    fs.mkdirSync(path.join(rootfs, 'private/etc'), { recursive: true });
    fs.symlinkSync('/private/etc', path.join(rootfs, 'etc'));
    writeEtcFiles(rootfs, { hostname: 'c2', resolvConfSources: [] });
    expect(fs.readFileSync(path.join(rootfs, 'private/etc/hostname'), 'utf8')).toBe('c2\n');

    const bare = path.join(tmp, 'bare');
    fs.mkdirSync(bare);
    writeEtcFiles(bare, { hostname: 'c3', resolvConfSources: [] });
    expect(fs.readFileSync(path.join(bare, 'etc/hosts'), 'utf8')).toContain('localhost c3');
  });

  test('bad names and addresses are refused before anything is written', () => {
    const rootfs = path.join(tmp, 'rootfs');
    fs.mkdirSync(rootfs);
    expect(() => writeEtcFiles(rootfs, { hostname: 'bad name' })).toThrow('hostname "bad name" is not a valid host name');
    expect(() => writeEtcFiles(rootfs, { hostname: 'x'.repeat(65) })).toThrow('is not a valid host name');
    expect(() => writeEtcFiles(rootfs, { hostname: 'ok', address: '10.0.0' })).toThrow('address "10.0.0" is not an IP address');
    expect(() => writeEtcFiles(rootfs, { hostname: 'ok', extraHosts: [['10.0.0.3', 'db']] })).toThrow(
      'extra host entry ["10.0.0.3","db"]: "db" is not an IP address (entries are [name, address])',
    );
    expect(fs.readdirSync(rootfs)).toEqual([]);
  });
});
