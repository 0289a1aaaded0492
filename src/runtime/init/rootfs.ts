// The container's filesystem view, built inside its own mount namespace: propagation, the rootfs bind,
// the config's mounts, /dev, then pivot_root and the masked and read-only paths.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { O_CLOEXEC, O_DIRECTORY, S_IFBLK, S_IFCHR, S_IFIFO, chdir, close, makedev, mknod, open, symlink } from '../../linux/fs.js';
import { MNT_DETACH, MS_BIND, MS_MOVE, MS_PRIVATE, MS_RDONLY, MS_REC, MS_REMOUNT, MS_SLAVE, chroot, mount, mountSetattrRecursive, umount2 } from '../../linux/mount.js';
import { O_PATH } from '../../linux/resolve.js';
import { SyscallError } from '../../linux/error.js';
import { parseMountinfo } from '../../linux/mountinfo.js';
import { parseMountOptions, parsePropagation } from './mount-options.js';
import type { StagePlan } from './protocol.js';
import { sysctlPath } from '../spec/sysctl.js';
import type { Device, Mount } from '../spec/types.js';
import { pivotInto } from '../steps/pivot-root.js';
import { mkdirAllInRoot, secureJoin } from '../../fs/in-root.js';

const DEFAULT_DEVICES: Device[] = [
  { type: 'c', path: '/dev/null', major: 1, minor: 3, fileMode: 0o666 },
  { type: 'c', path: '/dev/zero', major: 1, minor: 5, fileMode: 0o666 },
  { type: 'c', path: '/dev/full', major: 1, minor: 7, fileMode: 0o666 },
  { type: 'c', path: '/dev/random', major: 1, minor: 8, fileMode: 0o666 },
  { type: 'c', path: '/dev/urandom', major: 1, minor: 9, fileMode: 0o666 },
  { type: 'c', path: '/dev/tty', major: 5, minor: 0, fileMode: 0o666 },
];

const DEV_SYMLINKS: Array<[string, string]> = [
  ['/proc/self/fd', '/dev/fd'],
  ['/proc/self/fd/0', '/dev/stdin'],
  ['/proc/self/fd/1', '/dev/stdout'],
  ['/proc/self/fd/2', '/dev/stderr'],
  ['/proc/kcore', '/dev/core'],
];

// Flags that a bind mount only takes through a second, remounting mount(2) call.
const BIND_REMOUNT_MASK = ~(MS_BIND | MS_REC | MS_REMOUNT);

function mountPoint(mountinfo: string, target: string): { point: string; shared: boolean } {
  let best = { point: '/', shared: false };
  for (const { mountPoint: point, optionalFields } of parseMountinfo(mountinfo)) {
    if (!(target === point || target.startsWith(point === '/' ? '/' : `${point}/`))) continue;
    if (point.length >= best.point.length) best = { point, shared: optionalFields.some((f) => f.startsWith('shared:')) };
  }
  return best;
}

// Mount points the runtime creates get fixed modes, whatever umask the caller had (as runc's).
const MOUNT_POINT_MODE = 0o755;

/**
 * `mkdir -p` of `dir` (a path secureJoin gave, under `rootfs`), made by the kernel inside the root. Not
 * Node's recursive mkdirSync: on procfs and sysfs mkdir answers ENOENT, and Node then retries for ever.
 */
function mkdirInRoot(rootfs: string, dir: string): void {
  const root = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  try {
    close(mkdirAllInRoot(root, path.relative(rootfs, dir), MOUNT_POINT_MODE));
  } finally {
    close(root);
  }
}

function ensureMountPoint(rootfs: string, dest: string, sourceIsFile: boolean): void {
  if (fs.existsSync(dest)) return;
  if (!sourceIsFile) return mkdirInRoot(rootfs, dest);
  mkdirInRoot(rootfs, path.dirname(dest));
  fs.writeFileSync(dest, '', { mode: MOUNT_POINT_MODE });
}

/**
 * As runc: a tmpfs and whatever goes on /dev are mounted writable, so that mount points, device nodes and
 * copied-up files can be made in them, and made read-only at the end (remountDeferredReadonly).
 */
function readonlyDeferred(entry: Mount): boolean {
  return entry.type === 'tmpfs' || path.normalize(`/${entry.destination}`) === '/dev';
}

function bindMount(source: string, dest: string, recursive: boolean, flags: number): void {
  mount(source, dest, null, MS_BIND | (recursive ? MS_REC : 0));
  const extra = flags & BIND_REMOUNT_MASK;
  if (extra) mount(null, dest, null, MS_BIND | MS_REMOUNT | extra);
}

function mountCgroups(plan: StagePlan, dest: string, flags: number): void {
  const hasCgroupNs = plan.spec.linux?.namespaces?.some((ns) => ns.type === 'cgroup' && !ns.path) ?? false;
  mkdirInRoot(plan.rootfs, dest);
  if (plan.cgroupV2) {
    if (hasCgroupNs) mount('cgroup2', dest, 'cgroup2', flags);
    else bindMount(plan.cgroupDirs[0].hostPath, dest, true, flags);
    return;
  }
  // cgroup v1: a tmpfs holding one directory per hierarchy, each a bind of the container's own cgroup.
  mount('tmpfs', dest, 'tmpfs', flags & ~MS_RDONLY, 'mode=755');
  for (const { name, hostPath } of plan.cgroupDirs) {
    const sub = path.join(dest, name);
    // In the tmpfs just mounted; the names are the host's hierarchies ("cpu,cpuacct").
    fs.mkdirSync(sub, { mode: MOUNT_POINT_MODE });
    bindMount(hostPath, sub, false, flags);
  }
  if (flags & MS_RDONLY) mount(null, dest, null, MS_REMOUNT | flags);
}

function mountEntry(plan: StagePlan, entry: Mount): void {
  const opts = parseMountOptions(entry.options);
  const flags = readonlyDeferred(entry) ? opts.flags & ~MS_RDONLY : opts.flags;
  const dest = secureJoin(plan.rootfs, entry.destination);
  // The lexical forms are refused with config.json; a symbolic link in the rootfs can still lead here.
  if (dest === secureJoin(plan.rootfs, '/')) {
    throw new Error(`the destination resolves, through a symbolic link in the rootfs, to the container's root itself; a mount must go on a directory inside the root filesystem`);
  }
  const type = entry.type ?? '';
  if (type === 'cgroup' || type === 'cgroup2') {
    mountCgroups(plan, dest, flags);
  } else if (opts.bind || type === 'bind') {
    const source = path.resolve(plan.bundle, entry.source ?? '');
    let sourceStat: fs.Stats;
    try {
      sourceStat = fs.statSync(source);
    } catch {
      throw new Error(`mount ${entry.destination}: bind source ${source} does not exist`);
    }
    ensureMountPoint(plan.rootfs, dest, !sourceStat.isDirectory());
    bindMount(source, dest, opts.recursive, flags);
  } else if (opts.tmpcopyup && type === 'tmpfs') {
    ensureMountPoint(plan.rootfs, dest, false);
    mountTmpfsCopyUp(dest, flags, opts.data);
  } else {
    ensureMountPoint(plan.rootfs, dest, false);
    try {
      mount(entry.source ?? type, dest, type, flags, opts.data || null);
    } catch (err) {
      // sysfs refuses to mount outside a private network namespace: show the host's, as runc does.
      if (!(type === 'sysfs' && err instanceof SyscallError && err.code === 'EPERM')) throw err;
      bindMount('/sys', dest, true, flags);
    }
  }
  if (opts.attrSet || opts.attrClear) mountSetattrRecursive(dest, opts.attrSet, opts.attrClear);
  for (const propagation of opts.propagation) mount(null, dest, null, propagation);
}

/**
 * runc's tmpcopyup: the new tmpfs starts with a copy of what the directory held. The old directory stays
 * reachable under the new mount through an fd opened before it, so nothing is staged outside the
 * container: a failed copy leaves nothing behind but the tmpfs, which is taken off again.
 */
function mountTmpfsCopyUp(dest: string, flags: number, data: string): void {
  const old = open(dest, O_PATH | O_DIRECTORY | O_CLOEXEC);
  try {
    mount('tmpfs', dest, 'tmpfs', flags, data || null);
    try {
      copyDirectoryInto(`/proc/self/fd/${old}`, dest);
    } catch (err) {
      umount2(dest, MNT_DETACH);
      throw new Error(`tmpcopyup: copying what ${dest} held into its new tmpfs failed: ${(err as Error).message}`);
    }
  } finally {
    close(old);
  }
}

/** `cp -a from/. to`: entry by entry, since `from` (a /proc/self/fd magic link) is itself a symlink to cp. */
function copyDirectoryInto(from: string, to: string): void {
  for (const entry of fs.readdirSync(from)) {
    fs.cpSync(path.join(from, entry), path.join(to, entry), { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
  }
  const stat = fs.statSync(from);
  fs.chmodSync(to, stat.mode & 0o7777);
  fs.chownSync(to, stat.uid, stat.gid);
}

/**
 * As runc's createDeviceNode: the node is made where the path resolves inside the root; a file already
 * there (the image's own, or anything a config names) is left alone, never deleted.
 */
function createDevice(rootfs: string, device: Device): void {
  const dest = secureJoin(rootfs, device.path);
  mkdirInRoot(rootfs, path.dirname(dest));
  const kind = device.type === 'b' ? S_IFBLK : device.type === 'p' ? S_IFIFO : S_IFCHR;
  const mode = device.fileMode ?? 0o666;
  try {
    mknod(dest, kind | (mode & 0o7777), makedev(device.major ?? 0, device.minor ?? 0));
  } catch (err) {
    if (err instanceof SyscallError && err.code === 'EEXIST') return;
    // The devices cgroup can forbid mknod; the host's node bound in its place still honours it.
    if (!(err instanceof SyscallError && err.code === 'EPERM' && fs.existsSync(device.path))) throw err;
    fs.writeFileSync(dest, '');
    mount(device.path, dest, null, MS_BIND);
    return;
  }
  fs.chmodSync(dest, mode & 0o7777);
  fs.chownSync(dest, device.uid ?? 0, device.gid ?? 0);
}

function populateDev(plan: StagePlan): void {
  const mounts = plan.spec.mounts ?? [];
  const devFromHost = mounts.some((m) => path.normalize(m.destination) === '/dev' && (m.type === 'bind' || m.options?.includes('bind') || m.options?.includes('rbind')));
  if (!devFromHost) {
    for (const device of DEFAULT_DEVICES) createDevice(plan.rootfs, device);
    // The links themselves are made or replaced in /dev, never what an image's link there points to.
    const dev = secureJoin(plan.rootfs, '/dev');
    // As runc's setupPtmx: /dev/ptmx is always the link to the container's devpts instance.
    const ptmx = path.join(dev, 'ptmx');
    fs.rmSync(ptmx, { force: true });
    symlink('pts/ptmx', ptmx);
    for (const [target, link] of DEV_SYMLINKS) {
      // As runc: what the image already has there stays.
      try {
        symlink(target, path.join(dev, path.basename(link)));
      } catch (err) {
        if (!(err instanceof SyscallError && err.code === 'EEXIST')) throw err;
      }
    }
  }
  for (const device of plan.spec.linux?.devices ?? []) createDevice(plan.rootfs, device);
}

/** Why /dev may not take its nodes and links: a filesystem on it that holds none (runc fails there too). */
function devFilesystemHint(plan: StagePlan): string {
  const dev = (plan.spec.mounts ?? []).filter((m) => path.normalize(`/${m.destination}`) === '/dev').pop();
  if (!dev?.type || ['tmpfs', 'devtmpfs', 'bind'].includes(dev.type)) return '';
  return ` (a ${dev.type} filesystem is mounted on /dev, and it does not hold device nodes and symbolic links: mount a tmpfs there)`;
}

/** Everything up to (not including) the switch of root: runs in the container's new mount namespace. */
export function prepareRootfs(plan: StagePlan): void {
  const propagation = plan.spec.linux?.rootfsPropagation;
  mount(null, '/', null, propagation ? parsePropagation(propagation) : MS_SLAVE | MS_REC);
  // pivot_root refuses a new root whose parent mount is shared.
  const parent = mountPoint(fs.readFileSync('/proc/self/mountinfo', 'utf8'), plan.rootfs);
  if (parent.shared) mount(null, parent.point, null, MS_PRIVATE);
  mount(plan.rootfs, plan.rootfs, null, MS_BIND | MS_REC);
  for (const entry of plan.spec.mounts ?? []) {
    try {
      mountEntry(plan, entry);
    } catch (err) {
      throw new Error(`mounting ${entry.type ?? 'bind'} on ${entry.destination}: ${(err as Error).message}`);
    }
  }
  try {
    populateDev(plan);
  } catch (err) {
    throw new Error(`creating the container's device nodes in ${plan.rootfs}/dev: ${(err as Error).message}${devFilesystemHint(plan)}`);
  }
}

/** Makes the rootfs the process's `/`: pivot_root with the old root detached, or (--no-pivot) move + chroot. */
export function enterRootfs(plan: StagePlan): void {
  if (plan.noPivot) {
    chdir(plan.rootfs);
    mount(plan.rootfs, '/', null, MS_MOVE);
    chroot('.');
    chdir('/');
    return;
  }
  pivotInto(plan.rootfs);
}

function maskPath(target: string): void {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(target);
  } catch {
    return;
  }
  if (stat.isDirectory()) mount('tmpfs', target, 'tmpfs', MS_RDONLY);
  else mount('/dev/null', target, null, MS_BIND);
}

function readonlyPath(target: string): void {
  if (!fs.existsSync(target)) return;
  mount(target, target, null, MS_BIND | MS_REC);
  mount(null, target, null, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC);
}

/** Writes one sysctl through the container's /proc/sys; a failure names the sysctl, the value and the file. */
function writeSysctl(key: string, value: string): void {
  const file = sysctlPath(key);
  if (file === undefined) throw new Error(`cannot set sysctl ${JSON.stringify(key)}: it has an empty, "." or ".." part, so it names no file under /proc/sys`);
  try {
    fs.writeFileSync(file, value);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    const why: Record<string, string> = {
      EINVAL: 'the kernel refused the value',
      ENOENT: 'this kernel has no such sysctl (or the container\'s /proc is not procfs)',
      EACCES: 'the file is read-only',
      EROFS: '/proc/sys is mounted read-only in the container',
      EPERM: 'the container lacks the capability this sysctl needs',
    };
    throw new Error(`cannot set sysctl ${key}=${JSON.stringify(value)}: write ${file}: ${code} — ${why[code] ?? (err as Error).message}`);
  }
}

/** The `ro` that mountEntry held back from a tmpfs or /dev (readonlyDeferred), as runc's finalizeRootfs. */
function remountDeferredReadonly(entry: Mount): void {
  const { flags } = parseMountOptions(entry.options);
  if (!(flags & MS_RDONLY) || !readonlyDeferred(entry)) return;
  // The same mount mountEntry made, found again from the container's root.
  const dest = secureJoin('/', entry.destination);
  try {
    mount(null, dest, null, MS_BIND | MS_REMOUNT | (flags & BIND_REMOUNT_MASK));
  } catch (err) {
    throw new Error(`making ${entry.type ?? 'bind'} on ${entry.destination} read-only: ${(err as Error).message}`);
  }
}

/** After the switch of root: read-only tmpfs and /dev, sysctls, masked and read-only paths, a read-only root. */
export function finishRootfs(plan: StagePlan): void {
  const linux = plan.spec.linux ?? {};
  for (const entry of plan.spec.mounts ?? []) remountDeferredReadonly(entry);
  for (const [key, value] of Object.entries(linux.sysctl ?? {})) writeSysctl(key, value);
  for (const target of linux.readonlyPaths ?? []) readonlyPath(target);
  for (const target of linux.maskedPaths ?? []) maskPath(target);
  if (plan.spec.root?.readonly) mount(null, '/', null, MS_BIND | MS_REMOUNT | MS_RDONLY);
}
