// What the kernel shows about a container from the outside: namespaces, hostname, /proc, mounts,
// capabilities, rlimits, no_new_privs, masked and read-only paths, read-only root, user/env/cwd.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';
import { setupSuite, type Bundle, type SpecJson } from '../helpers/bundle.js';
import {
  OCI_NS_TO_PROC,
  capMask,
  capNames,
  capSets,
  containerPath,
  hostnameOf,
  mountinfo,
  nsInodes,
  nsPids,
  pidsSeenInside,
  procStatus,
  rlimits,
  type NamespaceName,
} from '../helpers/kernel.js';
import { expectOk, type RunResult } from '../helpers/runtime.js';

const s = setupSuite('iso');

/** Starts a detached container that sleeps, with the given config changes; returns its host pid. */
async function runSleeper(
  mutate?: (spec: SpecJson) => void,
): Promise<{ id: string; pid: number; spec: SpecJson; bundle: Bundle }> {
  const b = await s.bundle((spec) => {
    spec.process.args = ['sleep', '1000'];
    mutate?.(spec);
  });
  const id = s.id();
  expectOk(await s.rt.exec(['run', '--detach', '--bundle', b.dir, id]));
  const st = await s.rt.state(id);
  expect(st.status).toBe('running');
  return { id, pid: st.pid, spec: b.readSpec(), bundle: b };
}

/** Runs a shell command in a fresh container (foreground) and returns the result. */
async function runSh(script: string, mutate?: (spec: SpecJson) => void): Promise<RunResult> {
  const b = await s.bundle((spec) => {
    spec.process.args = ['sh', '-c', script];
    mutate?.(spec);
  });
  return s.runFg(b, s.id());
}

describe('namespaces', () => {
  test('configured namespaces are new, the others are the host\'s', async () => {
    const { pid, spec } = await runSleeper();
    const host = nsInodes('self');
    const inside = nsInodes(pid);
    const configured = new Set<NamespaceName>(
      (spec.linux.namespaces as Array<{ type: string }>).map((n) => OCI_NS_TO_PROC[n.type]),
    );
    // runc's default spec: pid, network, ipc, uts, mount.
    expect([...configured].sort()).toEqual(['ipc', 'mnt', 'net', 'pid', 'uts']);
    for (const ns of Object.keys(host) as NamespaceName[]) {
      if (configured.has(ns)) expect(inside[ns], ns).not.toBe(host[ns]);
      else expect(inside[ns], ns).toBe(host[ns]);
    }
  });

  test('namespaces left out of the config are shared with the host', async () => {
    const { pid } = await runSleeper((spec) => {
      spec.linux.namespaces = spec.linux.namespaces.filter((n: { type: string }) => !['network', 'ipc', 'uts'].includes(n.type));
      delete spec.hostname; // a hostname needs a UTS namespace
    });
    const host = nsInodes('self');
    const inside = nsInodes(pid);
    expect(inside.net).toBe(host.net);
    expect(inside.ipc).toBe(host.ipc);
    expect(inside.uts).toBe(host.uts);
    expect(inside.pid).not.toBe(host.pid);
    expect(inside.mnt).not.toBe(host.mnt);
  });

  test('a namespace with a path is joined', async () => {
    const a = await runSleeper();
    const b = await runSleeper((spec) => {
      for (const n of spec.linux.namespaces) {
        if (n.type === 'network' || n.type === 'ipc') n.path = `/proc/${a.pid}/ns/${OCI_NS_TO_PROC[n.type]}`;
      }
    });
    const nsA = nsInodes(a.pid);
    const nsB = nsInodes(b.pid);
    expect(nsB.net).toBe(nsA.net);
    expect(nsB.ipc).toBe(nsA.ipc);
    expect(nsB.net).not.toBe(nsInodes('self').net);
    expect(nsB.pid).not.toBe(nsA.pid);
    expect(nsB.uts).not.toBe(nsA.uts);
  });

  test('hostname is set inside the UTS namespace only', async () => {
    const hostBefore = os.hostname();
    const { pid } = await runSleeper((spec) => {
      spec.hostname = 'tslabtest-host';
    });
    expect(hostnameOf(pid)).toBe('tslabtest-host');
    expect(fs.readFileSync('/proc/sys/kernel/hostname', 'utf8').trim()).toBe(hostBefore);
  });

  test('a new network namespace has its loopback interface up (runc\'s "loopback" network)', async () => {
    // sysfs inside shows the container's own network namespace; flags 0x9 = IFF_UP | IFF_LOOPBACK.
    const r = await runSh('cat /sys/class/net/lo/flags; ip link show lo');
    expectOk(r);
    const [flags] = r.stdout.trim().split('\n');
    expect(Number(flags) & 0x1, `lo flags ${flags}`).toBe(0x1);
    expect(r.stdout).toMatch(/<LOOPBACK,UP,LOWER_UP>/);
  });

  test('the container init is pid 1 and its /proc shows only its own processes', async () => {
    const { pid } = await runSleeper();
    expect(nsPids(pid)).toEqual([pid, 1]);
    expect(pidsSeenInside(pid)).toEqual([1]);
    // And from inside, with a second process running.
    const r = await runSh('ls /proc | grep -E "^[0-9]+$" | sort -n | tr "\\n" " "');
    expectOk(r);
    const pids = r.stdout.trim().split(/\s+/).map(Number);
    expect(pids[0]).toBe(1);
    expect(pids.length).toBeLessThanOrEqual(5);
    expect(Math.max(...pids)).toBeLessThan(50);
  });
});

describe('mounts', () => {
  test('the host\'s mounts are invisible inside', async () => {
    // A mount of our own on the host, outside the bundle, with a recognisable source name.
    const hostDir = s.tmpDir('hostmount');
    const source = `${s.prefix}-hostonly`;
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', source, hostDir]);
    s.defer(() => {
      execFileSync('umount', [hostDir]);
    });
    const { pid, spec } = await runSleeper();
    const inside = mountinfo(pid);
    expect(inside.some((m) => m.source === source)).toBe(false);
    expect(inside.some((m) => m.mountPoint.includes(s.dir))).toBe(false);
    // Every mount point inside is the root, a config mount, or below /proc, /dev, /sys.
    const destinations = new Set<string>((spec.mounts as Array<{ destination: string }>).map((m) => m.destination));
    const unexpected = inside
      .map((m) => m.mountPoint)
      .filter((mp) => mp !== '/' && !destinations.has(mp) && !/^\/(proc|dev|sys)(\/|$)/.test(mp));
    expect(unexpected).toEqual([]);
    // The host's own mount points (other than /, /proc, /dev, /sys...) do not show up.
    const hostOnly = mountinfo('self')
      .map((m) => m.mountPoint)
      .filter((mp) => mp !== '/' && !/^\/(proc|dev|sys)(\/|$)/.test(mp));
    for (const mp of hostOnly) expect(inside.map((m) => m.mountPoint)).not.toContain(mp);
    // The root of the container is its rootfs, not the host's /.
    expect(fs.existsSync(containerPath(pid, 'bin/busybox'))).toBe(true);
    expect(fs.existsSync(containerPath(pid, 'work'))).toBe(false);
  });

  test('a bind mount from the config is visible inside', async () => {
    const shared = s.tmpDir('shared');
    fs.writeFileSync(path.join(shared, 'hello.txt'), 'from the host\n');
    const r = await runSh('cat /mnt/shared/hello.txt', (spec) => {
      spec.mounts.push({ destination: '/mnt/shared', type: 'bind', source: shared, options: ['rbind', 'ro'] });
    });
    expectOk(r);
    expect(r.stdout).toBe('from the host\n');
  });

  test('masked paths cannot be read', async () => {
    const { pid, bundle } = await runSleeper((spec) => {
      spec.linux.maskedPaths.push('/etc/hostname');
    });
    expect(fs.readFileSync(containerPath(pid, 'proc/keys'), 'utf8')).toBe('');
    expect(fs.readdirSync(containerPath(pid, 'sys/firmware'))).toEqual([]);
    expect(fs.readFileSync(path.join(bundle.rootfs, 'etc/hostname'), 'utf8')).not.toBe('');
    expect(fs.readFileSync(containerPath(pid, 'etc/hostname'), 'utf8')).toBe('');
  });

  test('a masked directory hides its content, a masked file reads empty', async () => {
    const b = await s.bundle((spec) => {
      spec.process.args = ['sh', '-c', 'cat /etc/hostname; ls -A /opt/secret; echo end'];
      spec.linux.maskedPaths.push('/etc/hostname', '/opt/secret');
    });
    fs.mkdirSync(path.join(b.rootfs, 'opt/secret'), { recursive: true });
    fs.writeFileSync(path.join(b.rootfs, 'opt/secret/data'), 'top secret\n');
    const r = await s.runFg(b, s.id());
    expectOk(r);
    expect(r.stdout).toBe('end\n');
  });

  test('read-only paths refuse writes', async () => {
    const { pid } = await runSleeper();
    const procSys = mountinfo(pid).find((m) => m.mountPoint === '/proc/sys');
    expect(procSys, 'a /proc/sys mount').toBeDefined();
    expect(procSys!.options).toContain('ro');
    const r = await runSh('echo tslabtest > /proc/sys/kernel/hostname && echo wrote || echo refused');
    expect(r.stdout.trim()).toBe('refused');
  });

  test('a read-only root refuses writes', async () => {
    const b = await s.bundle((spec) => {
      spec.root.readonly = true;
      spec.process.args = ['sh', '-c', 'touch /probe 2>/dev/null && echo wrote || echo refused'];
    });
    const r = await s.runFg(b, s.id());
    expectOk(r);
    expect(r.stdout.trim()).toBe('refused');
    expect(fs.existsSync(path.join(b.rootfs, 'probe'))).toBe(false);
  });

  test('a writable root takes writes, into the bundle\'s rootfs', async () => {
    const b = await s.bundle((spec) => {
      spec.root.readonly = false;
      spec.process.args = ['sh', '-c', 'touch /probe 2>/dev/null && echo wrote || echo refused'];
    });
    const r = await s.runFg(b, s.id());
    expectOk(r);
    expect(r.stdout.trim()).toBe('wrote');
    expect(fs.existsSync(path.join(b.rootfs, 'probe'))).toBe(true);
  });
});

describe('process', () => {
  test('CapEff and CapBnd equal the default config', async () => {
    const { pid, spec } = await runSleeper();
    const caps = capSets(pid);
    const want = capMask(spec.process.capabilities.bounding);
    expect(capNames(caps.bnd)).toEqual(capNames(want));
    expect(capNames(caps.eff)).toEqual(capNames(capMask(spec.process.capabilities.effective)));
    expect(capNames(caps.prm)).toEqual(capNames(capMask(spec.process.capabilities.permitted)));
  });

  test('CapEff and CapBnd equal a custom set', async () => {
    const set = ['CAP_CHOWN', 'CAP_NET_RAW', 'CAP_SYS_CHROOT', 'CAP_SETUID'];
    const { pid } = await runSleeper((spec) => {
      spec.process.capabilities = { bounding: set, effective: set, permitted: set };
    });
    const caps = capSets(pid);
    expect(capNames(caps.bnd)).toEqual(capNames(capMask(set)));
    expect(capNames(caps.eff)).toEqual(capNames(capMask(set)));
    expect(caps.inh).toBe(0n);
  });

  test('rlimits are set from the config', async () => {
    const { pid } = await runSleeper((spec) => {
      spec.process.rlimits = [
        { type: 'RLIMIT_NOFILE', soft: 256, hard: 512 },
        { type: 'RLIMIT_CORE', soft: 1024, hard: 2048 },
        { type: 'RLIMIT_NPROC', soft: 300, hard: 400 },
      ];
    });
    const l = rlimits(pid);
    expect(l.RLIMIT_NOFILE).toEqual({ soft: '256', hard: '512' });
    expect(l.RLIMIT_CORE).toEqual({ soft: '1024', hard: '2048' });
    expect(l.RLIMIT_NPROC).toEqual({ soft: '300', hard: '400' });
  });

  test('the default spec gives NOFILE 1024:1024', async () => {
    const { pid } = await runSleeper();
    expect(rlimits(pid).RLIMIT_NOFILE).toEqual({ soft: '1024', hard: '1024' });
  });

  test('noNewPrivileges true sets no_new_privs', async () => {
    const { pid } = await runSleeper((spec) => {
      spec.process.noNewPrivileges = true;
    });
    expect(procStatus(pid).NoNewPrivs).toBe('1');
  });

  test('noNewPrivileges false leaves no_new_privs clear', async () => {
    const { pid } = await runSleeper((spec) => {
      spec.process.noNewPrivileges = false;
    });
    expect(procStatus(pid).NoNewPrivs).toBe('0');
  });

  test('user, environment and cwd come from the config', async () => {
    const r = await runSh('id -u; id -g; echo "$TSLAB_VAR"; pwd', (spec) => {
      spec.process.user = { uid: 1000, gid: 1001 };
      spec.process.env.push('TSLAB_VAR=hello world');
      spec.process.cwd = '/tmp';
    });
    expectOk(r);
    expect(r.stdout.split('\n')).toEqual(['1000', '1001', 'hello world', '/tmp', '']);
  });

  test('uid and gid are visible from the outside', async () => {
    const { pid } = await runSleeper((spec) => {
      spec.process.user = { uid: 1000, gid: 1001 };
    });
    const st = procStatus(pid);
    expect(st.Uid.split(' ')).toEqual(['1000', '1000', '1000', '1000']);
    expect(st.Gid.split(' ')).toEqual(['1001', '1001', '1001', '1001']);
  });
});
