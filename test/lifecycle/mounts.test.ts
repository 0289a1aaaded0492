// The container's filesystem as config.json asks for it: bind mounts (ro, rw, files, bind vs rbind,
// relative sources, flags), tmpfs options, tmpcopyup, mount points created on demand (and their modes),
// destinations that are symlinks trying to leave the rootfs, --no-pivot, rootfsPropagation (with the
// bundle under a shared mount, so propagation can be seen), the default /dev, linux.devices,
// linux.sysctl (and its refusal outside the container's namespaces), --preserve-fds.
// Every check is read from the kernel (mountinfo, stat of /proc/<pid>/root/...) or from what the
// container itself saw, and every test holds for runc 1.1.5.
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';
import { makeBundle, setupSuite, type Bundle, type SpecJson } from '../helpers/bundle.js';
import { containerPath, mountinfo, type MountEntry } from '../helpers/kernel.js';
import { describeResult, expectOk, type RunResult, runtimeCommand } from '../helpers/runtime.js';

const s = setupSuite('mnt');

/** Runs a shell script in a fresh container (foreground), its stderr folded into its stdout. */
async function runSh(
  script: string,
  mutate?: (spec: SpecJson) => void,
  prepare?: (b: Bundle) => void,
  extra: string[] = [],
): Promise<{ r: RunResult; bundle: Bundle }> {
  const bundle = await s.bundle((spec) => {
    spec.process.args = ['sh', '-c', `exec 2>&1; ${script}`];
    mutate?.(spec);
  });
  prepare?.(bundle);
  const r = await s.runFg(bundle, s.id(), extra);
  return { r, bundle };
}

/** Starts a detached container that sleeps; returns its host pid. */
async function runSleeper(
  mutate?: (spec: SpecJson) => void,
  prepare?: (b: Bundle) => void,
  extra: string[] = [],
): Promise<{ id: string; pid: number; bundle: Bundle }> {
  const bundle = await s.bundle((spec) => {
    spec.process.args = ['sleep', '1000'];
    mutate?.(spec);
  });
  prepare?.(bundle);
  const id = s.id();
  expectOk(await s.rt.exec(['run', '--detach', '--bundle', bundle.dir, ...extra, id]));
  const st = await s.rt.state(id);
  expect(st.status).toBe('running');
  return { id, pid: st.pid, bundle };
}

function addMount(spec: SpecJson, m: { destination: string; type?: string; source?: string; options?: string[] }): void {
  spec.mounts.push(m);
}

/** The mount a process sees at `mountPoint` (the last one: the top of the stack). */
function mountAt(pid: number, mountPoint: string): MountEntry | undefined {
  return mountinfo(pid)
    .filter((m) => m.mountPoint === mountPoint)
    .pop();
}

/** Optional fields of a mountinfo line (shared:N, master:N, ...), read from the raw file. */
function optionalFields(pid: number, mountPoint: string): string[] {
  const lines = fs.readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n').filter(Boolean);
  const line = lines.filter((l) => l.split(' ')[4] === mountPoint).pop();
  if (!line) throw new Error(`no mount at ${mountPoint} for pid ${pid}`);
  const f = line.split(' - ')[0].split(' ');
  return f.slice(6);
}

function hostMountPoints(): string[] {
  return mountinfo('self').map((m) => m.mountPoint);
}

function devNumbers(st: fs.Stats): [number, number] {
  const rdev = st.rdev;
  const major = Math.floor(rdev / 256) & 0xfff;
  const minor = (rdev & 0xff) | (Math.floor(rdev / 4096) & 0xfff00);
  return [major, minor];
}

/** A host directory with a file in it, removed after the test. */
function hostDir(label: string, files: Record<string, string> = {}): string {
  const dir = s.tmpDir(label);
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

/** Mounts a tmpfs on the host (ours, by path) and unmounts it after the test. */
function hostTmpfs(dir: string, source: string): void {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', source, dir]);
  s.defer(() => {
    execFileSync('umount', [dir]);
  });
}

/**
 * `<runtime> --root <root> run --bundle <b> [extra] <id>` in the foreground, started by hand for what
 * the shared helper does not do: `fd3` opens that file (append) as the runtime's fd 3; `umask` is set
 * (by a shell that then execs the runtime) before the runtime starts.
 */
async function runCustom(bundle: Bundle, id: string, extra: string[], opts: { fd3?: string; umask?: string }): Promise<RunResult> {
  const { file: exe, prefix } = runtimeCommand();
  const argv = [...prefix, '--root', s.rt.root, 'run', '--bundle', bundle.dir, ...extra, id];
  const [cmd, cmdArgs] = opts.umask === undefined ? [exe, argv] : ['sh', ['-c', `umask ${opts.umask} && exec "$@"`, 'sh', exe, ...argv]];
  const io = s.tmpDir('io');
  const outPath = path.join(io, 'out');
  const errPath = path.join(io, 'err');
  const outFd = fs.openSync(outPath, 'w+');
  const errFd = fs.openSync(errPath, 'w+');
  const fd3 = opts.fd3 === undefined ? 'ignore' : fs.openSync(opts.fd3, 'a');
  const child = spawn(cmd, cmdArgs, { stdio: ['ignore', outFd, errFd, fd3] });
  fs.closeSync(outFd);
  fs.closeSync(errFd);
  if (typeof fd3 === 'number') fs.closeSync(fd3);
  return new Promise<RunResult>((resolve) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, 20_000);
    const finish = (code: number | null, signal: NodeJS.Signals | null, error?: string): void => {
      clearTimeout(timer);
      resolve({
        code: timedOut ? null : code,
        signal,
        stdout: fs.readFileSync(outPath, 'utf8'),
        stderr: error ?? fs.readFileSync(errPath, 'utf8'),
        timedOut,
        argv: [cmd, ...cmdArgs],
      });
    };
    child.on('error', (err) => finish(null, null, String(err)));
    child.on('exit', (code, signal) => finish(code, signal));
  });
}

describe('bind mounts', () => {
  test('a read-only bind refuses writes with EROFS and leaves the host unchanged', async () => {
    const src = hostDir('robind', { 'orig.txt': 'original\n' });
    const { r } = await runSh(
      'cat /mnt/ro/orig.txt; echo new > /mnt/ro/new.txt; echo "rc=$?"; echo changed > /mnt/ro/orig.txt; rm /mnt/ro/orig.txt; grep " /mnt/ro " /proc/self/mountinfo',
      (spec) => addMount(spec, { destination: '/mnt/ro', type: 'bind', source: src, options: ['rbind', 'ro'] }),
    );
    expectOk(r);
    expect(r.stdout).toMatch(/^original\n/);
    expect(r.stdout).toContain('Read-only file system');
    expect(r.stdout).not.toContain('rc=0');
    const line = r.stdout.split('\n').find((l) => l.includes(' /mnt/ro '));
    expect(line, r.stdout).toBeDefined();
    expect(line!.split(' ')[5].split(',')).toContain('ro');
    // The host copy is untouched.
    expect(fs.readdirSync(src)).toEqual(['orig.txt']);
    expect(fs.readFileSync(path.join(src, 'orig.txt'), 'utf8')).toBe('original\n');
  });

  test('a read-write bind shows the container\'s writes on the host and the host\'s inside', async () => {
    const src = hostDir('rwbind', { 'from-host.txt': 'host says hi\n', 'doomed.txt': 'x' });
    const { r } = await runSh(
      'cat /mnt/rw/from-host.txt && echo "container says hi" > /mnt/rw/from-container.txt && rm /mnt/rw/doomed.txt && mkdir /mnt/rw/sub && echo ok',
      (spec) => addMount(spec, { destination: '/mnt/rw', type: 'bind', source: src, options: ['rbind', 'rw'] }),
    );
    expectOk(r);
    expect(r.stdout).toBe('host says hi\nok\n');
    expect(fs.readFileSync(path.join(src, 'from-container.txt'), 'utf8')).toBe('container says hi\n');
    expect(fs.existsSync(path.join(src, 'doomed.txt'))).toBe(false);
    expect(fs.statSync(path.join(src, 'sub')).isDirectory()).toBe(true);
  });

  test('a single file can be bound, at a new path or over an existing file', async () => {
    const src = hostDir('filebind', { 'conf.txt': 'config line\n', 'hostname': 'bound-hostname\n' });
    const { r, bundle } = await runSh(
      'cat /etc/app/conf.txt; cat /etc/hostname; [ -f /etc/app/conf.txt ] && echo is-file; echo appended >> /etc/app/conf.txt; echo done',
      (spec) => {
        addMount(spec, { destination: '/etc/app/conf.txt', type: 'bind', source: path.join(src, 'conf.txt'), options: ['bind', 'rw'] });
        addMount(spec, { destination: '/etc/hostname', type: 'bind', source: path.join(src, 'hostname'), options: ['bind', 'ro'] });
      },
    );
    expectOk(r);
    expect(r.stdout).toBe('config line\nbound-hostname\nis-file\ndone\n');
    expect(fs.readFileSync(path.join(src, 'conf.txt'), 'utf8')).toBe('config line\nappended\n');
    // The mount point made for the file is an (empty) file, in the rootfs; the bound-over file is intact.
    const made = fs.lstatSync(path.join(bundle.rootfs, 'etc/app/conf.txt'));
    expect(made.isFile()).toBe(true);
    expect(made.size).toBe(0);
    expect(fs.readFileSync(path.join(bundle.rootfs, 'etc/hostname'), 'utf8')).toBe('tslab\n');
  });

  test('bind leaves out the mounts below the source, rbind brings them', async () => {
    const src = hostDir('subsrc', { 'top.txt': 'top\n' });
    fs.mkdirSync(path.join(src, 'sub'));
    hostTmpfs(path.join(src, 'sub'), `${s.prefix}-submount`);
    fs.writeFileSync(path.join(src, 'sub/marker.txt'), 'on the submount\n');
    const { r } = await runSh(
      'echo "bind: $(cat /mnt/b/top.txt) [$(ls /mnt/b/sub)]"; echo "rbind: $(cat /mnt/rb/top.txt) [$(ls /mnt/rb/sub)]"; cat /mnt/rb/sub/marker.txt',
      (spec) => {
        addMount(spec, { destination: '/mnt/b', type: 'bind', source: src, options: ['bind', 'ro'] });
        addMount(spec, { destination: '/mnt/rb', type: 'bind', source: src, options: ['rbind', 'ro'] });
      },
    );
    expectOk(r);
    expect(r.stdout).toBe('bind: top []\nrbind: top [marker.txt]\non the submount\n');
  });

  test('bind and rbind as seen in the container\'s mountinfo', async () => {
    const src = hostDir('subsrc2');
    fs.mkdirSync(path.join(src, 'sub'));
    const source = `${s.prefix}-submount2`;
    hostTmpfs(path.join(src, 'sub'), source);
    const { pid } = await runSleeper((spec) => {
      addMount(spec, { destination: '/mnt/b', type: 'bind', source: src, options: ['bind'] });
      addMount(spec, { destination: '/mnt/rb', type: 'bind', source: src, options: ['rbind'] });
    });
    const mi = mountinfo(pid);
    expect(mi.find((m) => m.mountPoint === '/mnt/b')).toBeDefined();
    expect(mi.find((m) => m.mountPoint === '/mnt/rb')).toBeDefined();
    expect(mi.find((m) => m.mountPoint === '/mnt/b/sub')).toBeUndefined();
    const sub = mi.find((m) => m.mountPoint === '/mnt/rb/sub');
    expect(sub?.fstype).toBe('tmpfs');
    expect(sub?.source).toBe(source);
  });
});

describe('tmpfs', () => {
  test('size=1m,mode=1777 shows in mountinfo, sets the mode and caps the size (ENOSPC)', async () => {
    const { r } = await runSh(
      'grep -E " /mnt/(t|t2) " /proc/self/mountinfo; stat -c "mode=%a" /mnt/t /mnt/t2; dd if=/dev/zero of=/mnt/t/big bs=1024 count=2048; echo "dd=$?"; ls -l /mnt/t/big',
      (spec) => {
        addMount(spec, { destination: '/mnt/t', type: 'tmpfs', source: 'tmpfs', options: ['size=1m', 'mode=1777'] });
        // tmpfs shows mode= in mountinfo only when it is not its default, 1777: a second one shows it.
        addMount(spec, { destination: '/mnt/t2', type: 'tmpfs', source: 'tmpfs', options: ['size=1m', 'mode=1770'] });
      },
    );
    expectOk(r);
    const superOptions = (mp: string): string[] => {
      const line = r.stdout.split('\n').find((l) => l.split(' ')[4] === mp);
      expect(line, r.stdout).toBeDefined();
      const [fstype, , opts] = line!.split(' - ')[1].split(' ');
      expect(fstype).toBe('tmpfs');
      return opts.split(',');
    };
    expect(superOptions('/mnt/t')).toContain('size=1024k');
    expect(superOptions('/mnt/t').filter((o) => o.startsWith('mode='))).toEqual([]); // 1777: the default
    expect(superOptions('/mnt/t2')).toEqual(expect.arrayContaining(['size=1024k', 'mode=1770']));
    expect(r.stdout).toContain('mode=1777\nmode=1770\n');
    expect(r.stdout).toContain('No space left on device');
    expect(r.stdout).not.toContain('dd=0');
  });

  test('nosuid,nodev,noexec are set on the mount and noexec is enforced', async () => {
    const { pid } = await runSleeper((spec) => {
      addMount(spec, { destination: '/mnt/nx', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'noexec', 'size=8m'] });
      addMount(spec, { destination: '/mnt/x', type: 'tmpfs', source: 'tmpfs', options: ['size=8m'] });
    });
    const nx = mountAt(pid, '/mnt/nx');
    expect(nx?.fstype).toBe('tmpfs');
    expect(nx!.options).toEqual(expect.arrayContaining(['nosuid', 'nodev', 'noexec']));
    const x = mountAt(pid, '/mnt/x');
    expect(x!.options).not.toContain('noexec');
    expect(x!.options).not.toContain('nosuid');
    // Seen from inside the same way, and exec from the noexec mount is refused.
    const { r } = await runSh(
      'grep " /mnt/nx " /proc/self/mountinfo; cp /bin/busybox /mnt/nx/busybox; /mnt/nx/busybox true; echo "exec=$?"; cp /bin/busybox /mnt/x/busybox; /mnt/x/busybox true; echo "exec-ok=$?"',
      (spec) => {
        addMount(spec, { destination: '/mnt/nx', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'noexec', 'size=8m'] });
        addMount(spec, { destination: '/mnt/x', type: 'tmpfs', source: 'tmpfs', options: ['size=8m'] });
      },
    );
    expectOk(r);
    const line = r.stdout.split('\n').find((l) => l.includes(' /mnt/nx '));
    expect(line!.split(' ')[5].split(',')).toEqual(expect.arrayContaining(['nosuid', 'nodev', 'noexec']));
    expect(r.stdout).toContain('Permission denied');
    expect(r.stdout).toMatch(/exec=(126|1|2)\n/);
    expect(r.stdout).toContain('exec-ok=0\n');
  });
});

describe('more mount kinds', () => {
  test('tmpfs with tmpcopyup starts with the directory\'s contents; writes stay off the rootfs', async () => {
    const { r, bundle } = await runSh(
      'cat /opt/data/seed.txt; ls /opt/data/sub; echo new > /opt/data/new.txt && echo wrote; grep " /opt/data " /proc/self/mountinfo | cut -d" " -f9',
      (spec) => addMount(spec, { destination: '/opt/data', type: 'tmpfs', source: 'tmpfs', options: ['tmpcopyup', 'size=1m'] }),
      (b) => {
        fs.mkdirSync(path.join(b.rootfs, 'opt/data/sub'), { recursive: true });
        fs.writeFileSync(path.join(b.rootfs, 'opt/data/seed.txt'), 'seed\n');
        fs.writeFileSync(path.join(b.rootfs, 'opt/data/sub/inner.txt'), 'inner\n');
      },
    );
    expectOk(r);
    expect(r.stdout).toBe('seed\ninner.txt\nwrote\ntmpfs\n');
    expect(fs.existsSync(path.join(bundle.rootfs, 'opt/data/new.txt'))).toBe(false);
  });

  test('a bind source relative to the bundle directory', async () => {
    const { r } = await runSh(
      'cat /mnt/rel/hello.txt',
      (spec) => addMount(spec, { destination: '/mnt/rel', type: 'bind', source: 'data', options: ['rbind', 'ro'] }),
      (b) => {
        fs.mkdirSync(path.join(b.dir, 'data'));
        fs.writeFileSync(path.join(b.dir, 'data/hello.txt'), 'relative\n');
      },
    );
    expectOk(r);
    expect(r.stdout).toBe('relative\n');
  });

  test('bind options nosuid,nodev,noexec,ro are applied to the bind mount', async () => {
    const src = hostDir('flagbind', { 'a.txt': 'a\n' });
    const { pid } = await runSleeper((spec) => {
      addMount(spec, { destination: '/mnt/fb', type: 'bind', source: src, options: ['rbind', 'ro', 'nosuid', 'nodev', 'noexec'] });
    });
    expect(mountAt(pid, '/mnt/fb')!.options).toEqual(expect.arrayContaining(['ro', 'nosuid', 'nodev', 'noexec']));
    // The host's view of the source is not changed by the container's flags.
    const host = mountinfo('self').filter((m) => src === m.mountPoint || src.startsWith(m.mountPoint === '/' ? '/' : `${m.mountPoint}/`)).pop();
    expect(host!.options).not.toContain('noexec');
  });

  test('a mount on top of an earlier mount of the list (tmpfs, then a bind inside it)', async () => {
    const src = hostDir('stacked', { 'in.txt': 'stacked\n' });
    const { pid } = await runSleeper((spec) => {
      addMount(spec, { destination: '/mnt/outer', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] });
      addMount(spec, { destination: '/mnt/outer/inner/deep', type: 'bind', source: src, options: ['rbind', 'ro'] });
    });
    expect(fs.readFileSync(containerPath(pid, 'mnt/outer/inner/deep/in.txt'), 'utf8')).toBe('stacked\n');
    const outer = mountAt(pid, '/mnt/outer')!;
    const inner = mountAt(pid, '/mnt/outer/inner/deep')!;
    expect(inner.parent).toBe(outer.id);
  });
});

describe('mount points', () => {
  test('a missing deep mount point is created in the rootfs (directory or file, as the source)', async () => {
    const src = hostDir('deepsrc', { 'f.txt': 'deep file\n' });
    const { pid, bundle } = await runSleeper((spec) => {
      addMount(spec, { destination: '/deep/a/b/c/d', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] });
      addMount(spec, { destination: '/deeper/x/y/z/f.txt', type: 'bind', source: path.join(src, 'f.txt'), options: ['bind', 'ro'] });
    });
    expect(fs.existsSync(path.join(bundle.rootfs, 'deep'))).toBe(true);
    expect(fs.statSync(path.join(bundle.rootfs, 'deep/a/b/c/d')).isDirectory()).toBe(true);
    expect(fs.statSync(path.join(bundle.rootfs, 'deeper/x/y/z/f.txt')).isFile()).toBe(true);
    expect(mountAt(pid, '/deep/a/b/c/d')?.fstype).toBe('tmpfs');
    expect(mountAt(pid, '/deeper/x/y/z/f.txt')).toBeDefined();
    expect(fs.readFileSync(containerPath(pid, 'deeper/x/y/z/f.txt'), 'utf8')).toBe('deep file\n');
  });

  test('mount points are made 0755 (never group/world-writable), whatever the caller\'s umask', async () => {
    const src = hostDir('umasksrc', { 'f.txt': 'x\n' });
    const b = await s.bundle((spec) => {
      spec.process.args = ['true'];
      addMount(spec, { destination: '/made/a/b', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] });
      addMount(spec, { destination: '/madef/x/f.txt', type: 'bind', source: path.join(src, 'f.txt'), options: ['bind', 'ro'] });
    });
    expectOk(await runCustom(b, s.id(), [], { umask: '000' }));
    for (const dir of ['made', 'made/a', 'made/a/b', 'madef', 'madef/x']) {
      expect((fs.statSync(path.join(b.rootfs, dir)).mode & 0o7777).toString(8), dir).toBe('755');
    }
    const file = fs.statSync(path.join(b.rootfs, 'madef/x/f.txt'));
    expect(file.isFile()).toBe(true);
    expect((file.mode & 0o022).toString(8), 'group/other write bits of the file mount point').toBe('0');
  });

  test('a destination that is a symlink to /../../etc mounts inside the rootfs, not over the host', async () => {
    const marker = `${s.prefix}-evil-marker`;
    const src = hostDir('evilsrc', { [marker]: 'inside only\n' });
    const hostEtcBefore = fs.readdirSync('/etc').sort();
    const { pid, bundle } = await runSleeper(
      (spec) => addMount(spec, { destination: '/mnt/evil', type: 'bind', source: src, options: ['rbind', 'ro'] }),
      (b) => {
        fs.mkdirSync(path.join(b.rootfs, 'mnt'), { recursive: true });
        fs.symlinkSync('/../../etc', path.join(b.rootfs, 'mnt/evil'));
      },
    );
    // Inside: the mount sits on the container's /etc.
    expect(fs.readFileSync(containerPath(pid, `etc/${marker}`), 'utf8')).toBe('inside only\n');
    expect(mountAt(pid, '/etc')).toBeDefined();
    // The host's /etc is untouched and not a mount point; the rootfs still holds the symlink.
    expect(fs.existsSync(`/etc/${marker}`)).toBe(false);
    expect(fs.readdirSync('/etc').sort()).toEqual(hostEtcBefore);
    expect(hostMountPoints()).not.toContain('/etc');
    expect(fs.readlinkSync(path.join(bundle.rootfs, 'mnt/evil'))).toBe('/../../etc');
    expect(fs.existsSync(path.join(bundle.rootfs, 'etc', marker))).toBe(false); // only the mount shows it
  });

  test('a relative symlink climbing out of the rootfs, in the middle of a destination, stays inside', async () => {
    const name = `${s.prefix}-climb`;
    s.defer(() => {
      // Only if the runtime went wrong: never leave it on the host.
      fs.rmSync(path.join('/tmp', name), { recursive: true, force: true });
    });
    const { pid, bundle } = await runSleeper(
      (spec) => addMount(spec, { destination: `/mnt/up/${name}/deep`, type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] }),
      (b) => {
        fs.mkdirSync(path.join(b.rootfs, 'mnt'), { recursive: true });
        fs.symlinkSync('../../../../../../../../../../tmp', path.join(b.rootfs, 'mnt/up'));
      },
    );
    expect(fs.existsSync(path.join('/tmp', name))).toBe(false);
    expect(fs.statSync(path.join(bundle.rootfs, 'tmp', name, 'deep')).isDirectory()).toBe(true);
    expect(mountAt(pid, `/tmp/${name}/deep`)?.fstype).toBe('tmpfs');
  });

  test('a tmpfs destination that is an absolute symlink lands on its target inside the rootfs', async () => {
    const { pid, bundle } = await runSleeper(
      (spec) => addMount(spec, { destination: '/data', type: 'tmpfs', source: 'tmpfs', options: ['size=1m', 'mode=700'] }),
      (b) => {
        fs.mkdirSync(path.join(b.rootfs, 'srv/real'), { recursive: true });
        fs.symlinkSync('/srv/real', path.join(b.rootfs, 'data'));
      },
    );
    expect(mountAt(pid, '/srv/real')?.fstype).toBe('tmpfs');
    expect(mountAt(pid, '/data')).toBeUndefined();
    expect(fs.lstatSync(path.join(bundle.rootfs, 'data')).isSymbolicLink()).toBe(true);
  });
});

describe('the root', () => {
  test('--no-pivot: the container still sees only its rootfs', async () => {
    const { r } = await runSh(
      'ls /; echo ---; cat /etc/hostname; echo ---; cd /../../..; pwd; ls; echo ---; cut -d" " -f5 /proc/self/mountinfo',
      undefined,
      undefined,
      ['--no-pivot'],
    );
    expectOk(r);
    const [rootList, hostname, climbed, mounts] = r.stdout.split('---\n');
    const entries = rootList.trim().split(/\s+/);
    expect(entries).toContain('bin');
    expect(entries).not.toContain('work');
    expect(hostname).toBe('tslab\n');
    expect(climbed.split('\n')[0]).toBe('/');
    expect(climbed.trim().split(/\s+/).slice(1).sort()).toEqual([...entries].sort());
    const points = mounts.trim().split('\n');
    expect(points).toContain('/');
    for (const mp of points) expect(mp, mp).not.toContain(s.dir);
    for (const mp of hostMountPoints().filter((p) => p.startsWith('/mnt/') || p.startsWith('/work'))) {
      expect(points).not.toContain(mp);
    }
  });

  test('--no-pivot: the container root is the rootfs, seen from the host too', async () => {
    const { pid, bundle } = await runSleeper(undefined, undefined, ['--no-pivot']);
    const inside = fs.statSync(containerPath(pid, '/'));
    const rootfs = fs.statSync(bundle.rootfs);
    expect([inside.dev, inside.ino]).toEqual([rootfs.dev, rootfs.ino]);
    expect(mountinfo(pid).some((m) => m.mountPoint.includes(s.dir))).toBe(false);
  });

  /** The bundle made a shared mount of its own, so propagation to the container can be seen. */
  function sharedBundle(b: Bundle): void {
    execFileSync('mount', ['--bind', b.dir, b.dir]);
    s.defer(() => {
      // -R: whatever a runtime let propagate onto it goes too (the container is gone by now).
      execFileSync('umount', ['-R', b.dir]);
    });
    execFileSync('mount', ['--make-shared', b.dir]);
  }

  /** Mounts a tmpfs on the host at <rootfs>/home after the container started; returns whether it shows inside. */
  async function hostMountReachesContainer(b: Bundle, id: string, pid: number, source: string): Promise<boolean> {
    const target = path.join(b.rootfs, 'home');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', source, target]);
    s.defer(() => {
      execFileSync('umount', [target]);
    });
    // The container goes first: nothing of it may hold the mounts the deferred steps undo.
    s.defer(async () => {
      await s.rt.forceDelete(id);
    });
    return mountinfo(pid).some((m) => m.source === source);
  }

  test('by default (rslave) the root receives the host\'s mounts below the rootfs', async () => {
    const { id, pid, bundle } = await runSleeper(undefined, sharedBundle);
    expect(optionalFields(pid, '/').some((f) => f.startsWith('master:'))).toBe(true);
    expect(await hostMountReachesContainer(bundle, id, pid, `${s.prefix}-prop-slave`)).toBe(true);
  });

  test('rootfsPropagation "private" cuts the root off from the host\'s mounts', async () => {
    const { id, pid, bundle } = await runSleeper((spec) => {
      spec.linux.rootfsPropagation = 'private';
    }, sharedBundle);
    const fields = optionalFields(pid, '/');
    expect(fields.filter((f) => /^(shared|master):/.test(f))).toEqual([]);
    expect(await hostMountReachesContainer(bundle, id, pid, `${s.prefix}-prop-private`)).toBe(false);
  });

  test.each(['shared', 'rshared', 'slave', 'rslave', 'rprivate'])(
    'rootfsPropagation %j under a shared mount: the container starts on its rootfs',
    async (propagation) => {
      const { pid, bundle } = await runSleeper((spec) => {
        spec.linux.rootfsPropagation = propagation;
      }, sharedBundle);
      const inside = fs.statSync(containerPath(pid, '/'));
      const rootfs = fs.statSync(bundle.rootfs);
      expect([inside.dev, inside.ino]).toEqual([rootfs.dev, rootfs.ino]);
      expect(mountinfo(pid).some((m) => m.mountPoint.includes(s.dir))).toBe(false);
    },
  );

  test('a bundle path with a space, under a shared mount, with rootfsPropagation "rshared"', async () => {
    const dir = path.join(s.tmpDir('with space'), 'the bundle');
    const bundle = await makeBundle(s.rt, dir, (spec) => {
      spec.process.args = ['sleep', '1000'];
      spec.linux.rootfsPropagation = 'rshared';
    });
    sharedBundle(bundle);
    const id = s.id();
    s.defer(async () => {
      await s.rt.forceDelete(id);
    });
    expectOk(await s.rt.exec(['run', '--detach', '--bundle', bundle.dir, id]));
    const { pid } = await s.rt.state(id);
    const inside = fs.statSync(containerPath(pid, '/'));
    const rootfs = fs.statSync(bundle.rootfs);
    expect([inside.dev, inside.ino]).toEqual([rootfs.dev, rootfs.ino]);
  });
});

describe('/dev', () => {
  const DEFAULT_DEVICES: Array<[string, number, number]> = [
    ['null', 1, 3],
    ['zero', 1, 5],
    ['full', 1, 7],
    ['random', 1, 8],
    ['urandom', 1, 9],
    ['tty', 5, 0],
  ];

  test('the default /dev has the standard character devices, on a tmpfs, not in the rootfs', async () => {
    const { pid, bundle } = await runSleeper();
    expect(mountAt(pid, '/dev')?.fstype).toBe('tmpfs');
    for (const [name, major, minor] of DEFAULT_DEVICES) {
      const st = fs.lstatSync(containerPath(pid, `dev/${name}`));
      expect(st.isCharacterDevice(), name).toBe(true);
      expect(devNumbers(st), name).toEqual([major, minor]);
      expect(st.mode & 0o777, name).toBe(0o666);
      expect([st.uid, st.gid], name).toEqual([0, 0]);
    }
    // The nodes live on the /dev tmpfs: the bundle's rootfs/dev stays as it was.
    expect(fs.readdirSync(path.join(bundle.rootfs, 'dev'))).toEqual([]);
  });

  test('the default /dev has the fd symlinks, ptmx to pts/ptmx, and devpts, shm, mqueue', async () => {
    const { pid } = await runSleeper();
    const links: Record<string, string> = {
      fd: '/proc/self/fd',
      stdin: '/proc/self/fd/0',
      stdout: '/proc/self/fd/1',
      stderr: '/proc/self/fd/2',
      ptmx: 'pts/ptmx',
    };
    for (const [name, target] of Object.entries(links)) {
      expect(fs.readlinkSync(containerPath(pid, `dev/${name}`)), name).toBe(target);
    }
    expect(mountAt(pid, '/dev/pts')?.fstype).toBe('devpts');
    expect(mountAt(pid, '/dev/shm')?.fstype).toBe('tmpfs');
    expect(mountAt(pid, '/dev/mqueue')?.fstype).toBe('mqueue');
  });

  test('the devices work from inside', async () => {
    const { r } = await runSh(
      'echo gone > /dev/null && echo null-ok; head -c 16 /dev/zero | od -An -tx1 | tr -d " \\n"; echo; head -c 8 /dev/urandom | wc -c; dd if=/dev/zero of=/dev/full bs=1 count=1; ls /dev/fd/ | grep -c . ; readlink /dev/stdout',
    );
    expectOk(r);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('null-ok');
    expect(lines[1]).toBe('00'.repeat(16));
    expect(lines[2].trim()).toBe('8');
    expect(r.stdout).toContain('No space left on device');
    expect(lines.at(-2)).toBe('/proc/self/fd/1');
  });

  test('linux.devices adds nodes with their type, numbers, mode and owner', async () => {
    const { pid, bundle } = await runSleeper((spec) => {
      spec.linux.devices = [
        { path: '/dev/mynull', type: 'c', major: 1, minor: 3, fileMode: 0o600, uid: 1000, gid: 1001 },
        { path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 },
        { path: '/dev/sub/dir/myzero', type: 'c', major: 1, minor: 5, fileMode: 0o640, uid: 0, gid: 0 },
      ];
    });
    const mynull = fs.lstatSync(containerPath(pid, 'dev/mynull'));
    expect(mynull.isCharacterDevice()).toBe(true);
    expect(devNumbers(mynull)).toEqual([1, 3]);
    expect(mynull.mode & 0o7777).toBe(0o600);
    expect([mynull.uid, mynull.gid]).toEqual([1000, 1001]);
    const fuse = fs.lstatSync(containerPath(pid, 'dev/fuse'));
    expect(fuse.isCharacterDevice()).toBe(true);
    expect(devNumbers(fuse)).toEqual([10, 229]);
    const myzero = fs.lstatSync(containerPath(pid, 'dev/sub/dir/myzero'));
    expect(myzero.isCharacterDevice()).toBe(true);
    expect(devNumbers(myzero)).toEqual([1, 5]);
    expect(myzero.mode & 0o7777).toBe(0o640);
    // The defaults are still there, and nothing went into the bundle's rootfs.
    expect(fs.lstatSync(containerPath(pid, 'dev/null')).isCharacterDevice()).toBe(true);
    expect(fs.readdirSync(path.join(bundle.rootfs, 'dev'))).toEqual([]);
  });

  test('linux.devices: a FIFO, a block device, a default mode, and a path through a symlink', async () => {
    const name = `${s.prefix}-dev`;
    s.defer(() => {
      fs.rmSync(path.join('/tmp', name), { force: true }); // only if a runtime went wrong
    });
    const { pid, bundle } = await runSleeper(
      (spec) => {
        spec.linux.devices = [
          { path: '/dev/myfifo', type: 'p', fileMode: 0o620, uid: 0, gid: 0 },
          { path: '/dev/myblock', type: 'b', major: 7, minor: 200, fileMode: 0o660, uid: 0, gid: 6 },
          { path: '/dev/nomode', type: 'c', major: 1, minor: 3 },
          { path: `/mnt/devlink/${name}`, type: 'c', major: 1, minor: 3, fileMode: 0o600, uid: 0, gid: 0 },
        ];
      },
      (b) => {
        fs.mkdirSync(path.join(b.rootfs, 'mnt'), { recursive: true });
        fs.symlinkSync('/../../../tmp', path.join(b.rootfs, 'mnt/devlink'));
      },
    );
    const fifo = fs.lstatSync(containerPath(pid, 'dev/myfifo'));
    expect(fifo.isFIFO()).toBe(true);
    expect(fifo.mode & 0o7777).toBe(0o620);
    const block = fs.lstatSync(containerPath(pid, 'dev/myblock'));
    expect(block.isBlockDevice()).toBe(true);
    expect(devNumbers(block)).toEqual([7, 200]);
    expect([block.mode & 0o7777, block.gid]).toEqual([0o660, 6]);
    const nomode = fs.lstatSync(containerPath(pid, 'dev/nomode'));
    expect(nomode.isCharacterDevice()).toBe(true);
    expect(devNumbers(nomode)).toEqual([1, 3]);
    expect([nomode.mode & 0o7777, nomode.uid, nomode.gid]).toEqual([0o666, 0, 0]); // runc's default
    // Through the symlink: inside the rootfs (its /tmp), never the host's /tmp.
    expect(fs.existsSync(path.join('/tmp', name))).toBe(false);
    expect(fs.lstatSync(path.join(bundle.rootfs, 'tmp', name)).isCharacterDevice()).toBe(true);
  });

  test('a linux.devices node can be used from inside', async () => {
    const { r } = await runSh('echo data > /dev/mynull && echo wrote; cat /dev/mynull | wc -c', (spec) => {
      spec.linux.devices = [{ path: '/dev/mynull', type: 'c', major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 }];
    });
    expectOk(r);
    expect(r.stdout.split('\n').map((l) => l.trim())).toEqual(['wrote', '0', '']);
  });
});

describe('linux.sysctl', () => {
  test('net.ipv4.ip_forward and kernel.domainname are set in the container\'s namespaces only', async () => {
    const hostForward = fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8');
    const hostDomain = fs.readFileSync('/proc/sys/kernel/domainname', 'utf8');
    const want = hostForward.trim() === '1' ? '0' : '1';
    const { r } = await runSh('cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/domainname', (spec) => {
      spec.linux.sysctl = { 'net.ipv4.ip_forward': want, 'kernel.domainname': 'tslab.test' };
    });
    expectOk(r);
    expect(r.stdout).toBe(`${want}\ntslab.test\n`);
    expect(fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8')).toBe(hostForward);
    expect(fs.readFileSync('/proc/sys/kernel/domainname', 'utf8')).toBe(hostDomain);
  });

  test('a net sysctl belongs to the container\'s network namespace (read there from the host)', async () => {
    const hostForward = fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
    const want = hostForward === '1' ? '0' : '1';
    const { pid } = await runSleeper((spec) => {
      spec.linux.sysctl = { 'net.ipv4.ip_forward': want };
    });
    // /proc/sys/net answers for the reader's network namespace: enter the container's to read it.
    const inside = execFileSync('nsenter', ['-t', String(pid), '-n', 'cat', '/proc/sys/net/ipv4/ip_forward'], { encoding: 'utf8' });
    expect(inside.trim()).toBe(want);
    expect(fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim()).toBe(hostForward);
  });
});

describe('linux.sysctl outside the container\'s namespaces', () => {
  /** Puts a host sysctl back after the test if a runtime changed it (it must not). */
  function guardHostSysctl(key: string): string {
    const file = `/proc/sys/${key.replace(/\./g, '/')}`;
    const before = fs.readFileSync(file, 'utf8');
    s.defer(() => {
      if (fs.readFileSync(file, 'utf8') !== before) fs.writeFileSync(file, before.trim());
    });
    return before;
  }

  /** The runtime fails before the container runs, and says which sysctl it refused. */
  function expectRefused(r: RunResult, key: string): void {
    expect(r.timedOut, describeResult(r)).toBe(false);
    expect(r.code, describeResult(r)).not.toBe(0);
    expect(r.stdout, describeResult(r)).not.toContain('container ran');
    expect(r.stderr, describeResult(r)).toContain(key);
  }

  test('a net.* sysctl without a network namespace of the container\'s own is refused', async () => {
    const key = 'net.ipv4.ip_forward';
    const before = guardHostSysctl(key);
    const { r } = await runSh('echo container ran', (spec) => {
      spec.linux.namespaces = spec.linux.namespaces.filter((n: { type: string }) => n.type !== 'network');
      spec.linux.sysctl = { [key]: before.trim() === '1' ? '0' : '1' };
    });
    expect(fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8'), 'the host\'s value').toBe(before);
    expectRefused(r, key);
  });

  test('kernel.domainname without a UTS namespace of the container\'s own is refused', async () => {
    const key = 'kernel.domainname';
    const before = guardHostSysctl(key);
    const { r } = await runSh('echo container ran', (spec) => {
      spec.linux.namespaces = spec.linux.namespaces.filter((n: { type: string }) => n.type !== 'uts');
      delete spec.hostname;
      spec.linux.sysctl = { [key]: 'tslab-leaked.example' };
    });
    expect(fs.readFileSync('/proc/sys/kernel/domainname', 'utf8'), 'the host\'s value').toBe(before);
    expectRefused(r, key);
  });

  test('a sysctl no namespace isolates (kernel.printk_ratelimit) is refused', async () => {
    const key = 'kernel.printk_ratelimit';
    const before = guardHostSysctl(key);
    const { r } = await runSh('echo container ran', (spec) => {
      spec.linux.sysctl = { [key]: String(Number(before.trim()) + 2) };
    });
    expect(fs.readFileSync('/proc/sys/kernel/printk_ratelimit', 'utf8'), 'the host\'s value').toBe(before);
    expectRefused(r, key);
  });
});

describe('--preserve-fds', () => {
  test('--preserve-fds 1 passes fd 3 to the container', async () => {
    const out = path.join(s.tmpDir('fd3'), 'fd3.txt');
    fs.writeFileSync(out, '');
    const b = await s.bundle((spec) => {
      spec.process.args = ['sh', '-c', 'echo hi >&3 && echo wrote'];
    });
    const r = await runCustom(b, s.id(), ['--preserve-fds', '1'], { fd3: out });
    expectOk(r);
    expect(r.stdout).toBe('wrote\n');
    expect(fs.readFileSync(out, 'utf8')).toBe('hi\n');
  });

  test('without --preserve-fds, fd 3 does not reach the container', async () => {
    const out = path.join(s.tmpDir('fd3'), 'fd3.txt');
    fs.writeFileSync(out, '');
    const b = await s.bundle((spec) => {
      spec.process.args = ['sh', '-c', '(echo hi >&3) 2>/dev/null; echo "rc=$?"'];
    });
    const r = await runCustom(b, s.id(), [], { fd3: out });
    expectOk(r);
    expect(r.stdout).toMatch(/^rc=[1-9]/);
    expect(fs.readFileSync(out, 'utf8')).toBe('');
  });
});
