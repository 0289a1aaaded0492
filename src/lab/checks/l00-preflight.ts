// Lesson 0: what the machine offers. The learner's filesystemSupported is compared with the kernel's own
// list; the rest reads the kernel directly (effective uid, the cgroup mounts, the busybox binary).
import * as fs from 'node:fs';
import { isStaticElf } from '../../fs/busybox-rootfs.js';
import { readStatusField } from '../../linux/proc.js';
import { readMountinfo } from '../../linux/mountinfo.js';
import { errorText, fail, pass, readText, verdict } from './common.js';
import type { CheckResult, LessonCheck } from './types.js';

/** Names to ask about: real ones, a prefix and a suffix of real ones, the first column's "nodev", and nonsense. */
const PROBE_NAMES = ['proc', 'tmpfs', 'sysfs', 'cgroup2', 'overlay', 'ext4', 'ext', 'fs', 'nodev', 'tslab-no-such-fs'];

const BUSYBOX_CANDIDATES = ['/bin/busybox', '/usr/bin/busybox', '/sbin/busybox'];

/** The kernel's list of filesystem types: the last tab-separated field of each line of /proc/filesystems. */
function kernelFilesystems(): Set<string> {
  const names = (readText('/proc/filesystems') ?? '')
    .split('\n')
    .map((line) => line.split('\t').pop()!.trim())
    .filter(Boolean);
  return new Set(names);
}

async function probeFilesystems(ctx: Parameters<LessonCheck>[0], known: Set<string>): Promise<CheckResult> {
  const name = 'filesystemSupported(name) agrees with /proc/filesystems';
  const wrong: string[] = [];
  const answers: string[] = [];
  // One process asks about every name: the answers are independent of one another.
  const replies = await ctx.probeEach('filesystemSupported', PROBE_NAMES.map((fsName) => [fsName]));
  for (const [i, fsName] of PROBE_NAMES.entries()) {
    const reply = replies[i];
    if (!reply.ok) {
      return fail(name, `filesystemSupported('${fsName}') threw ${errorText(reply.error)}`, 'true or false for each name', 'write filesystemSupported in sandbox/steps/preflight.ts');
    }
    const answer = reply.result;
    const truth = known.has(fsName);
    answers.push(`${fsName}=${String(answer)}`);
    if (answer !== truth) wrong.push(`'${fsName}' -> ${JSON.stringify(answer)} (the kernel says ${truth})`);
  }
  if (!wrong.length) return pass(name, answers.join(' '));
  return fail(
    name,
    wrong.join('; '),
    PROBE_NAMES.map((n) => `${n}=${known.has(n)}`).join(' '),
    "compare the LAST tab-separated field of each line exactly (===): 'ext' is not 'ext4', 'fs' is not 'sysfs', and 'nodev' is the first column, not a name",
  );
}

function rootCheck(): CheckResult {
  const uids = readStatusField('self', 'Uid')?.split(/\s+/) ?? [];
  const euid = uids[1] ?? '?';
  return verdict('running as root', euid === '0', `effective uid ${euid}`, 'effective uid 0', 'namespaces, mounts and cgroups need root: run tslab with sudo');
}

function kernelCheck(): CheckResult {
  const release = (readText('/proc/sys/kernel/osrelease') ?? '?').trim();
  const [major, minor] = release.split('.').map((n) => parseInt(n, 10));
  // close_range(CLOSE_RANGE_CLOEXEC), which the lab's launcher uses, came with Linux 5.11.
  const ok = major > 5 || (major === 5 && minor >= 11);
  return verdict('kernel 5.11 or newer', ok, `Linux ${release}`, 'Linux 5.11 or newer', 'the lab needs close_range(CLOSE_RANGE_CLOEXEC) (5.11): use a newer distribution or kernel');
}

function cgroupCheck(): CheckResult {
  const mounts = readMountinfo('self');
  const at = (dir: string) => mounts.filter((m) => m.mountPoint === dir).pop();
  const top = at('/sys/fs/cgroup');
  const v1 = mounts.filter((m) => m.fsType === 'cgroup' && m.mountPoint.startsWith('/sys/fs/cgroup/'));
  const unified = mounts.find((m) => m.fsType === 'cgroup2');
  let mode: string | undefined;
  if (top?.fsType === 'cgroup2') mode = 'cgroup v2 (unified)';
  else if (v1.length && unified) mode = `hybrid: ${v1.length} cgroup v1 hierarchies + cgroup2 at ${unified.mountPoint}`;
  else if (v1.length) mode = `cgroup v1: ${v1.length} hierarchies`;
  else if (unified) mode = `cgroup v2 at ${unified.mountPoint}`;
  return mode
    ? pass('cgroups are mounted', mode)
    : fail('cgroups are mounted', 'no cgroup or cgroup2 mount', 'cgroup2 on /sys/fs/cgroup (or v1 hierarchies under it)', 'mount -t cgroup2 none /sys/fs/cgroup (systemd machines do this at boot)');
}

function busyboxCheck(): CheckResult {
  // /bin is often a link to /usr/bin: name each binary once.
  const found = [...new Set(BUSYBOX_CANDIDATES.filter((file) => fs.existsSync(file)).map((file) => fs.realpathSync(file)))];
  const statics = found.filter((file) => {
    try {
      return isStaticElf(file);
    } catch {
      return false;
    }
  });
  const saw = found.length ? found.map((f) => `${f} (${statics.includes(f) ? 'static' : 'dynamic'})`).join(', ') : 'no busybox';
  return verdict('a static busybox for the rootfs', statics.length > 0, saw, `a static busybox in ${BUSYBOX_CANDIDATES.join(' or ')}`, 'apt-get install busybox-static');
}

function filesystemsCheck(known: Set<string>): CheckResult {
  const needed = ['proc', 'tmpfs', 'sysfs'];
  const missing = needed.filter((n) => !known.has(n));
  if (!known.has('cgroup') && !known.has('cgroup2')) missing.push('cgroup or cgroup2');
  const overlay = known.has('overlay') ? 'overlay too' : 'no overlay (tslab does not need it)';
  return verdict(
    'the kernel knows the filesystems a container needs',
    missing.length === 0,
    missing.length ? `missing: ${missing.join(', ')}` : `${needed.join(', ')}, cgroup${known.has('cgroup2') ? '2' : ''}; ${overlay}`,
    `${needed.join(', ')} and cgroup or cgroup2 in /proc/filesystems`,
    'a filesystem may be a module: try modprobe NAME, or use a distribution kernel',
  );
}

export const check: LessonCheck = async (ctx) => {
  const known = kernelFilesystems();
  return [await probeFilesystems(ctx, known), rootCheck(), kernelCheck(), filesystemsCheck(known), cgroupCheck(), busyboxCheck()];
};
