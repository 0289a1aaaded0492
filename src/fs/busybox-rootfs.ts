// A minimal root filesystem made locally with no network: the host's static busybox, its applet links and
// a minimal /etc. The lab's lesson container runs in it; the built-in busybox image is made from it.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { dataDir } from './data-dir.js';

const BUSYBOX_CANDIDATES = ['/bin/busybox', '/usr/bin/busybox', '/sbin/busybox'];

export class RootfsError extends Error {}

function defaultRootfsPath(): string {
  return path.join(dataDir(), 'rootfs', 'busybox');
}

const PT_INTERP = 3;

/** True for a 64-bit little-endian ELF executable without a program interpreter (a static binary). */
export function isStaticElf(file: string): boolean {
  const fd = fs.openSync(file, 'r');
  try {
    const header = Buffer.alloc(64);
    fs.readSync(fd, header, 0, 64, 0);
    if (header.readUInt32BE(0) !== 0x7f454c46 || header[4] !== 2 || header[5] !== 1) return false;
    const phoff = Number(header.readBigUInt64LE(32));
    const phentsize = header.readUInt16LE(54);
    const phnum = header.readUInt16LE(56);
    const table = Buffer.alloc(phentsize * phnum);
    fs.readSync(fd, table, 0, table.length, phoff);
    for (let i = 0; i < phnum; i++) if (table.readUInt32LE(i * phentsize) === PT_INTERP) return false;
    return true;
  } finally {
    fs.closeSync(fd);
  }
}

function findStaticBusybox(): string {
  // A dynamically linked busybox would need the host's libc inside the rootfs.
  const found = BUSYBOX_CANDIDATES.find((candidate) => fs.existsSync(candidate) && isStaticElf(candidate));
  if (found) return found;
  throw new RootfsError(
    'no static busybox found on this machine (looked in ' + BUSYBOX_CANDIDATES.join(', ') + '). ' +
      'Install it with: apt-get install busybox-static',
  );
}

const ETC_FILES: Record<string, string> = {
  'etc/passwd': 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
  'etc/group': 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\n',
  'etc/hostname': 'tslab\n',
  'etc/hosts': '127.0.0.1\tlocalhost\n::1\tlocalhost\n',
  'etc/resolv.conf': '',
};

/** Builds the rootfs at `target` (replacing nothing that exists) from the host's static busybox. */
export function buildBusyboxRootfs(target: string): void {
  const busybox = findStaticBusybox();
  const staging = `${target}.tmp-${process.pid}`;
  fs.rmSync(staging, { recursive: true, force: true });
  for (const dir of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root', 'run', 'var', 'home']) {
    fs.mkdirSync(path.join(staging, dir), { recursive: true });
  }
  fs.chmodSync(path.join(staging, 'tmp'), 0o1777);
  fs.copyFileSync(busybox, path.join(staging, 'bin/busybox'));
  fs.chmodSync(path.join(staging, 'bin/busybox'), 0o755);
  const applets = execFileSync(busybox, ['--list-full'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  for (const applet of applets) {
    const link = path.join(staging, applet);
    if (applet === 'bin/busybox' || fs.existsSync(link)) continue;
    fs.symlinkSync(path.relative(path.dirname(link), path.join(staging, 'bin/busybox')), link);
  }
  for (const [file, text] of Object.entries(ETC_FILES)) fs.writeFileSync(path.join(staging, file), text);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  try {
    fs.renameSync(staging, target);
  } catch (err) {
    fs.rmSync(staging, { recursive: true, force: true });
    // Another process finished first: its rootfs is as good as ours.
    if ((err as NodeJS.ErrnoException).code !== 'ENOTEMPTY' && (err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}

/** Returns the default rootfs, creating it on first use. */
export function ensureDefaultRootfs(): string {
  const target = defaultRootfsPath();
  if (!fs.existsSync(path.join(target, 'bin/busybox'))) buildBusyboxRootfs(target);
  return target;
}
