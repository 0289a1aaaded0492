// Device access rules: which device nodes a container may open (r, w) or create (m).
//
// cgroup v1 has a "devices" controller with two write-only files. Each write is one rule, "type major:minor access":
//   devices.deny  "a"            -> deny everything and forget all exceptions (default-deny mode)
//   devices.allow "c 1:3 rwm"    -> then allow /dev/null (char 1:3) again
// cgroup v2 has no devices files at all: access is checked by an eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE)
// attached to the cgroup. device-filter.ts turns the rules into that program; bpfDeviceFilterInstaller below loads
// and attaches it.

import type { DeviceRule } from '../spec/types.js';
import {
  BPF_CGROUP_DEVICE,
  BPF_F_ALLOW_MULTI,
  bpfCgroupDeviceSupported,
  bpfProgAttach,
  bpfProgDetach,
  bpfProgGetFdById,
  bpfProgLoadCgroupDevice,
  bpfProgQuery,
} from '../../linux/bpf.js';
import { close, open, O_CLOEXEC, O_DIRECTORY, O_RDONLY } from '../../linux/fs.js';
import { CgroupError } from './cgroup-error.js';
import type { CgroupLayout } from './detect.js';
import type { CgroupWrite } from './write.js';

/**
 * The rules runc (1.1) appends after the user's rules, so these devices always work in a container whatever
 * linux.resources.devices says (podman sends only "deny all" and relies on this). Order as in runc's AllowedDevices.
 * (runc also lists /dev/net/tun, 10:200, which it dropped in 1.2; tslab leaves it out. /dev/console (5:1) is not in
 * runc's list: the console is a pty, already covered by 136:*.)
 */
export const DEFAULT_ALLOWED_DEVICES: readonly DeviceRule[] = Object.freeze([
  { allow: true, type: 'c', access: 'm' }, // mknod of any char device (opening it is still denied)
  { allow: true, type: 'b', access: 'm' }, // mknod of any block device
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }, // /dev/null
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' }, // /dev/random
  { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' }, // /dev/full
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' }, // /dev/tty
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' }, // /dev/zero
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' }, // /dev/urandom
  { allow: true, type: 'c', major: 136, access: 'rwm' }, // /dev/pts/* (major 136, any minor)
  { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' }, // /dev/ptmx
] satisfies DeviceRule[]);

/** The kernel's text form of a rule: "c 1:3 rwm", "a *:* rwm"; a missing or negative number is the wildcard '*'. */
export function deviceRuleString(rule: DeviceRule, index?: number): string {
  const where = index === undefined ? 'device rule' : `linux.resources.devices[${index}]`;
  const type = rule.type ?? 'a';
  if (type !== 'a' && type !== 'b' && type !== 'c') {
    throw new CgroupError(`${where}: type "${String(type)}" must be "a", "b" or "c"`);
  }
  const access = rule.access ?? '';
  if (access === '' || !/^[rwm]+$/.test(access) || new Set(access).size !== access.length) {
    throw new CgroupError(`${where}: access "${access}" must be a non-empty combination of r, w and m`);
  }
  const num = (n: number | undefined, name: string): string => {
    if (n === undefined || n === -1) return '*';
    if (!Number.isInteger(n) || n < 0) throw new CgroupError(`${where}: ${name} ${n} must be a non-negative integer or -1`);
    return String(n);
  };
  return `${type} ${num(rule.major, 'major')}:${num(rule.minor, 'minor')} ${access}`;
}

/** User rules first, then runc's default allow list (see DEFAULT_ALLOWED_DEVICES). */
export function effectiveDeviceRules(userRules: DeviceRule[] | undefined): DeviceRule[] {
  return [...(userRules ?? []), ...DEFAULT_ALLOWED_DEVICES];
}

/**
 * The v1 writes for a rule list: first "a" to devices.deny (deny everything, empty exception list), then each
 * rule in order to devices.allow or devices.deny. Replaying in order gives "last matching rule wins" semantics.
 * (runc computes a minimal transition instead, so a running container never loses access for a moment during
 * `update`; for a new cgroup with no processes yet the simple replay is equivalent.)
 */
export function v1DeviceWrites(rules: DeviceRule[], userRuleCount = rules.length): CgroupWrite[] {
  const writes: CgroupWrite[] = [{ controller: 'devices', file: 'devices.deny', value: 'a' }];
  rules.forEach((rule, i) => {
    const value = deviceRuleString(rule, i < userRuleCount ? i : undefined);
    writes.push({ controller: 'devices', file: rule.allow ? 'devices.allow' : 'devices.deny', value });
  });
  return writes;
}

/**
 * Can this layout enforce device rules? With a v1 devices hierarchy (v1 or hybrid), or on pure cgroup v2 when
 * this process can load eBPF device programs (`probe`, default: load a trivial one once and see).
 */
export function canEnforceDeviceRules(
  layout: Pick<CgroupLayout, 'mode' | 'controllers'>,
  probe: () => boolean = bpfCgroupDeviceSupported,
): boolean {
  if (layout.controllers['devices'] !== undefined) return true;
  return layout.mode === 'v2' && probe();
}

/** Puts a device filter program on a cgroup2 directory (an interface so unit tests can do without the kernel). */
export interface DeviceFilterInstaller {
  /**
   * Load `program` (eBPF instructions, see device-filter.ts) and attach it to the cgroup2 directory `dir`; then
   * detach the device programs that were attached to `dir` before, so a second apply() replaces the first one
   * instead of adding to it.
   */
  install(dir: string, program: Buffer): void;
}

/** License string of the program (kernel MODULE_LICENSE format); a device filter calls no GPL-only helper. */
export const DEVICE_FILTER_LICENSE = 'MIT';

/** The real installer: bpf(2) on the cgroup directory. Throws SyscallError (BpfError) on failure. */
export const bpfDeviceFilterInstaller: DeviceFilterInstaller = {
  install(dir, program) {
    // The name shows in `bpftool prog list` and `bpftool cgroup tree`.
    const progFd = bpfProgLoadCgroupDevice(program, DEVICE_FILTER_LICENSE, 'tslab_devices');
    try {
      const dirFd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      try {
        const before = bpfProgQuery(dirFd, BPF_CGROUP_DEVICE).progIds;
        // BPF_F_ALLOW_MULTI: the cgroup may hold several device programs (an access must pass each of them, and
        // those of every parent cgroup), and children may attach their own. New first, old off afterwards: in
        // between both apply, so the container never runs without a filter (runc does the same).
        bpfProgAttach(dirFd, progFd, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI);
        for (const id of before) {
          let oldFd: number;
          try {
            oldFd = bpfProgGetFdById(id);
          } catch (err) {
            if ((err as { code?: string }).code === 'ENOENT') continue; // already gone
            throw err;
          }
          try {
            bpfProgDetach(dirFd, oldFd, BPF_CGROUP_DEVICE);
          } catch (err) {
            if ((err as { code?: string }).code !== 'ENOENT') throw err; // detached meanwhile
          } finally {
            close(oldFd);
          }
        }
      } finally {
        close(dirFd);
      }
    } finally {
      close(progFd); // the attachment holds its own reference: the program stays while it is attached
    }
  },
};
