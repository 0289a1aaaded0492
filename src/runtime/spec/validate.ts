// What tslab checks in a config.json beyond its types, each with a sentence for the learner: what runc
// would only find out later (or not at all), and what the config names on this machine.

import * as fs from 'node:fs';
import { resolve } from 'node:path';

import { MAX_ID } from '../../linux/id-range.js';
import { NSFS_MAGIC, namespaceType } from '../../linux/nsfs.js';
import { fileKind, fstatfsType } from '../../linux/resolve.js';
import { isCapabilityName, capabilityNumber } from '../process/capability-names.js';
import { parsePropagation } from '../init/mount-options.js';
import { RLIM_INFINITY, isRlimitName, rlimitNumber } from '../process/rlimits.js';
import { seccompProblem } from './seccomp-profile.js';
import { SpecError } from './spec-error.js';
import { sysctlName, sysctlNamespace } from './sysctl.js';
import { userNamespaceProblem } from './userns.js';
import type { Resources, Spec } from './types.js';
import type { Locations } from './decode.js';
import type { Located } from './json.js';

const KNOWN_NAMESPACES = ['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup', 'time'];

function isAbs(p: string): boolean {
  return p.startsWith('/');
}

/** The error maker and the small checks every part of checkSpec uses, each throwing at the field at fault. */
interface Checker {
  err(field: string, sentence: string): SpecError;
  checkId(field: string, id: number): void;
  noNul(field: string, value: string): void;
  checkEnv(field: string, pair: string): void;
}

function checker(src: Located, locs: Locations): Checker {
  const err = (field: string, sentence: string): SpecError => src.error(locs.get(field), field, sentence);
  return {
    err,
    checkId(field, id) {
      if (id < 0 || id > MAX_ID) {
        // Above it, 4294967295 is -1 to setresuid(2) and chown(2): "leave unchanged", so a process would stay root.
        throw err(field, `${field} is ${id}, but uids and gids must be in range 0-${MAX_ID}`);
      }
    },
    noNul(field, value) {
      if (value.includes('\0')) {
        throw err(field, `${field} contains a NUL character (\\u0000), which no path, argument or name passed to the kernel can hold`);
      }
    },
    checkEnv(field, pair) {
      // runc checks these when the container starts (populateProcessEnvironment); same words, said earlier.
      const eq = pair.indexOf('=');
      if (eq < 0) throw err(field, `invalid environment variable: ${JSON.stringify(pair)}: each entry must look like NAME=value`);
      if (eq === 0) throw err(field, `environment variable name can't be empty: ${JSON.stringify(pair)}`);
      if (pair.slice(0, eq).includes('\0')) throw err(field, `environment variable name can't contain null(\\x00): ${JSON.stringify(pair)}`);
      if (pair.slice(eq + 1).includes('\0')) throw err(field, `environment variable value can't contain null(\\x00): ${JSON.stringify(pair)}`);
    },
  };
}

/**
 * Checks a decoded config.json as runc's validator does, and more; throws SpecError at the field at fault.
 * The parts run in runc's order, so the first problem reported is the one runc would report.
 */
export function checkSpec(src: Located, spec: Spec, locs: Locations): void {
  const c = checker(src, locs);
  checkVersion(spec, c);
  const proc = checkProcess(spec, c);
  checkConfinement(proc, c);
  checkCapabilities(proc, c);
  checkRlimits(proc, c);
  checkRootAndNames(spec, c);
  checkMounts(spec, c);
  checkHooks(spec, c);
  const namespaces = spec.linux ? checkLinux(spec, spec.linux, c) : new Set<string>();
  checkNamespaceNeeds(spec, namespaces, c);
  checkSysctls(spec, namespaces, c);
}

/** ociVersion: runc itself does not look at it, but a 2.x config would mean something else. */
function checkVersion(spec: Spec, { err }: Checker): void {
  if (spec.ociVersion === '') {
    throw err(
      'ociVersion',
      'ociVersion is missing: config.json must say which version of the OCI runtime spec it follows, e.g. "ociVersion": "1.0.2-dev"',
    );
  }
  if (!/^1\.[0-9]+(\.[0-9]+)?([-+][0-9A-Za-z.+-]*)?$/.test(spec.ociVersion)) {
    throw err(
      'ociVersion',
      `ociVersion ${JSON.stringify(spec.ociVersion)} is not supported: this runtime implements version 1.x of the OCI runtime spec (like "1.0.2-dev")`,
    );
  }
}

/** process (runc: validateProcessSpec, in this order): what to run, as whom, with which sizes. */
function checkProcess(spec: Spec, { err, checkId, noNul, checkEnv }: Checker): NonNullable<Spec['process']> {
  const proc = spec.process;
  if (proc === undefined) {
    throw err('process', 'process property must not be empty: config.json needs a "process" object that says what to run in the container');
  }
  if (proc.cwd === '') {
    throw err('process.cwd', 'Cwd property must not be empty: process.cwd is the directory, inside the container, the process starts in (usually "/")');
  }
  if (!isAbs(proc.cwd)) {
    throw err('process.cwd', `Cwd must be an absolute path: process.cwd is ${JSON.stringify(proc.cwd)}, but it must start with "/" (it is a path inside the container)`);
  }
  if ((proc.args ?? []).length === 0) {
    throw err('process.args', 'args must not be empty: process.args is the command to run, program first, e.g. ["sh"]');
  }
  if (proc.args[0] === '') {
    throw err('process.args[0]', 'process.args[0] is the program to run and must not be an empty string');
  }
  noNul('process.cwd', proc.cwd);
  proc.args.forEach((a, i) => noNul(`process.args[${i}]`, a));
  (proc.env ?? []).forEach((pair, i) => checkEnv(`process.env[${i}]`, pair));

  checkId('process.user.uid', proc.user.uid);
  checkId('process.user.gid', proc.user.gid);
  const groups = proc.user.additionalGids ?? [];
  groups.forEach((gid, i) => checkId(`process.user.additionalGids[${i}]`, gid));
  if (groups.length > NGROUPS_MAX) {
    throw err('process.user.additionalGids', `process.user.additionalGids lists ${groups.length} groups, but a process can be in at most ${NGROUPS_MAX} (NGROUPS_MAX)`);
  }
  if (proc.user.umask !== undefined && proc.user.umask > 0o777) {
    throw err('process.user.umask', `process.user.umask is ${proc.user.umask} (0${proc.user.umask.toString(8)} in octal), but a umask holds permission bits only: 0 to 511 (0777 in octal), like 18 for 022`);
  }
  for (const side of ['height', 'width'] as const) {
    const n = proc.consoleSize?.[side];
    if (n !== undefined && n > 0xffff) {
      throw err(`process.consoleSize.${side}`, `process.consoleSize.${side} is ${n}, but a terminal's size is counted in 16 bits: at most 65535 rows or columns`);
    }
  }
  if (proc.oomScoreAdj !== undefined && (proc.oomScoreAdj < -1000 || proc.oomScoreAdj > 1000)) {
    throw err('process.oomScoreAdj', `process.oomScoreAdj is ${proc.oomScoreAdj}, but the kernel takes -1000 (never kill) to 1000 (kill first) in /proc/<pid>/oom_score_adj`);
  }

  return proc;
}

/** Confinement tslab cannot apply is refused rather than dropped: the process would run less confined than asked. */
function checkConfinement(proc: NonNullable<Spec['process']>, { err }: Checker): void {
  if (proc.selinuxLabel) {
    throw err('process.selinuxLabel', 'selinux label is specified in config, but selinux is disabled or not supported: tslab does not apply SELinux labels; remove process.selinuxLabel');
  }
  if (proc.apparmorProfile) {
    throw err('process.apparmorProfile', `process.apparmorProfile is ${JSON.stringify(proc.apparmorProfile)}, but tslab cannot apply AppArmor profiles (runc would, where AppArmor is enabled); remove it to run without one`);
  }
}

function checkCapabilities(proc: NonNullable<Spec['process']>, { err }: Checker): void {
  const caps = proc.capabilities;
  if (caps) {
    for (const set of ['bounding', 'effective', 'inheritable', 'permitted', 'ambient'] as const) {
      (caps[set] ?? []).forEach((name, i) => {
        if (!isCapabilityName(name)) {
          let message = '';
          try {
            capabilityNumber(name);
          } catch (e) {
            message = (e as Error).message;
          }
          throw err(`process.capabilities.${set}[${i}]`, `process.capabilities.${set}[${i}]: ${message}`);
        }
      });
    }
  }
}

function checkRlimits(proc: NonNullable<Spec['process']>, { err }: Checker): void {
  const seenRlimits = new Map<string, number>();
  (proc.rlimits ?? []).forEach((rl, i) => {
    const at = `process.rlimits[${i}]`;
    if (!isRlimitName(rl.type)) {
      let message = '';
      try {
        rlimitNumber(rl.type);
      } catch (e) {
        message = (e as Error).message;
      }
      throw err(`${at}.type`, `${at}.type: ${message}`);
    }
    const before = seenRlimits.get(rl.type);
    if (before !== undefined) {
      throw err(`${at}.type`, `${rl.type} is set twice, in process.rlimits[${before}] and ${at}: the OCI spec requires each rlimit type to appear once`);
    }
    seenRlimits.set(rl.type, i);
    if (rl.soft > rl.hard) {
      throw err(`${at}.soft`, `${at}: the soft limit (${rl.soft}) is above the hard limit (${rl.hard}); setrlimit(2) refuses that, the soft limit must be at most the hard one`);
    }
  });
}

/** root (runc: CreateLibcontainerConfig), and the lengths of hostname and domainname. */
function checkRootAndNames(spec: Spec, { err, noNul }: Checker): void {
  if (spec.root === undefined) {
    throw err('root', 'root must be specified: config.json needs "root": { "path": "rootfs" } naming the directory that becomes the container\'s /');
  }
  if (spec.root.path === '') {
    throw err('root.path', 'root.path must not be empty: it names the directory that becomes the container\'s / (usually "rootfs", relative to the bundle)');
  }
  noNul('root.path', spec.root.path);

  for (const field of ['hostname', 'domainname'] as const) {
    const name = spec[field];
    if (name === undefined) continue;
    noNul(field, name);
    if (Buffer.byteLength(name) > UTS_NAME_MAX) {
      throw err(field, `${field} is ${Buffer.byteLength(name)} bytes long, but the kernel keeps at most ${UTS_NAME_MAX} bytes for it (sethostname(2) and setdomainname(2) refuse more)`);
    }
  }
}

function checkMounts(spec: Spec, { err, noNul }: Checker): void {
  (spec.mounts ?? []).forEach((m, i) => {
    const at = `mounts[${i}]`;
    if (!isAbs(m.destination)) {
      throw err(
        `${at}.destination`,
        `${at}.destination is ${JSON.stringify(m.destination)}, but a mount destination must be an absolute path inside the container (starting with "/"), like "/proc"`,
      );
    }
    noNul(`${at}.destination`, m.destination);
    // A mount over the root itself would hide the rootfs the rest is built in (fuzz case 473: a bind onto
    // "/mnt/../../.." and then proc onto "/" made the stage spin).
    if (resolve('/', m.destination) === '/') {
      throw err(`${at}.destination`, `${at}.destination ${JSON.stringify(m.destination)} is the container's root itself; a mount must go on a directory inside the root filesystem (root.path is the root)`);
    }
    if (m.source !== undefined) noNul(`${at}.source`, m.source);
    if (m.type !== undefined) noNul(`${at}.type`, m.type);
    (m.options ?? []).forEach((o, j) => noNul(`${at}.options[${j}]`, o));
  });
}

function checkHooks(spec: Spec, { err, noNul, checkEnv }: Checker): void {
  const hooks = spec.hooks;
  if (hooks) {
    for (const stage of ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'] as const) {
      (hooks[stage] ?? []).forEach((h, i) => {
        const at = `hooks.${stage}[${i}]`;
        if (!isAbs(h.path)) {
          throw err(`${at}.path`, `${at}.path is ${JSON.stringify(h.path)}, but a hook's path must be absolute (starting with "/"): the runtime runs it without searching $PATH`);
        }
        noNul(`${at}.path`, h.path);
        if (h.timeout !== undefined && h.timeout <= 0) {
          throw err(`${at}.timeout`, `${at}.timeout is ${h.timeout}, but a hook timeout is a number of seconds and must be greater than zero`);
        }
        // Node's timers hold at most 2^31-1 ms: a longer timeout would fire after 1 ms, failing the hook at once.
        if (h.timeout !== undefined && h.timeout > MAX_HOOK_TIMEOUT) {
          throw err(`${at}.timeout`, `${at}.timeout is ${h.timeout} seconds, but tslab waits at most ${MAX_HOOK_TIMEOUT} seconds (24 days) for a hook`);
        }
        (h.env ?? []).forEach((pair, j) => checkEnv(`${at}.env[${j}]`, pair));
      });
    }
  }
}

/** linux: seccomp, id mappings, propagation, namespaces, devices, resources; returns the namespace types asked for. */
function checkLinux(spec: Spec, linux: NonNullable<Spec['linux']>, c: Checker): Set<string> {
  const { err, checkId } = c;
  if (linux.seccomp) {
    const problem = seccompProblem(linux.seccomp);
    if (problem) throw err(problem.field, problem.sentence);
  }
  for (const kind of ['uidMappings', 'gidMappings'] as const) {
    (linux[kind] ?? []).forEach((m, i) => {
      checkId(`linux.${kind}[${i}].containerID`, m.containerID);
      checkId(`linux.${kind}[${i}].hostID`, m.hostID);
      if (m.size > MAX_ID + 1 - Math.max(m.containerID, m.hostID)) {
        throw err(`linux.${kind}[${i}].size`, `linux.${kind}[${i}].size is ${m.size}: the mapping would reach past ${MAX_ID}, the largest uid or gid`);
      }
    });
  }
  if (linux.rootfsPropagation !== undefined) {
    try {
      parsePropagation(linux.rootfsPropagation);
    } catch (e) {
      throw err('linux.rootfsPropagation', (e as Error).message);
    }
  }
  const namespaces = checkNamespaceList(linux, c);
  const userProblem = userNamespaceProblem(spec);
  if (userProblem) throw err(userProblem.field, userProblem.sentence);
  checkDevices(linux, c);
  checkResources(linux.resources, err);
  checkUnsupported(linux, c);
  return namespaces;
}

function checkNamespaceList(linux: NonNullable<Spec['linux']>, { err }: Checker): Set<string> {
  const namespaces = new Set<string>();
  (linux.namespaces ?? []).forEach((ns, i) => {
    const at = `linux.namespaces[${i}]`;
    const type: string = ns.type;
    if (!KNOWN_NAMESPACES.includes(type)) {
      throw err(
        `${at}.type`,
        `namespace ${JSON.stringify(type)} does not exist: ${at}.type must be one of pid, network, mount, ipc, uts, cgroup (or user, time)`,
      );
    }
    if (type === 'time') {
      throw err(`${at}.type`, 'the time namespace is not supported (runc 1.1.5 does not know it either); remove {"type": "time"} from linux.namespaces');
    }
    if (namespaces.has(type)) {
      throw err(`${at}.type`, `malformed spec file: duplicated ns ${JSON.stringify(type)}: each namespace type may appear only once in linux.namespaces`);
    }
    namespaces.add(type);
    if (ns.path !== undefined && ns.path !== '' && !isAbs(ns.path)) {
      throw err(`${at}.path`, `${at}.path is ${JSON.stringify(ns.path)}, but a namespace path must be absolute, like "/proc/1234/ns/${nsFile(type)}"`);
    }
  });
  return namespaces;
}

function checkDevices(linux: NonNullable<Spec['linux']>, { err, checkId, noNul }: Checker): void {
  (linux.devices ?? []).forEach((d, i) => {
    const at = `linux.devices[${i}]`;
    noNul(`${at}.path`, d.path);
    if (d.type !== 'p') {
      // mknod(2) takes a 32-bit dev_t: a larger major or minor would silently make another device.
      if ((d.major ?? 0) < 0 || (d.major ?? 0) > MAX_MAJOR) {
        throw err(`${at}.major`, `${at}.major is ${d.major}, but a device major number goes from 0 to ${MAX_MAJOR}`);
      }
      if ((d.minor ?? 0) < 0 || (d.minor ?? 0) > MAX_MINOR) {
        throw err(`${at}.minor`, `${at}.minor is ${d.minor}, but a device minor number goes from 0 to ${MAX_MINOR}`);
      }
    }
    if (d.fileMode !== undefined && d.fileMode > 0o7777) {
      throw err(`${at}.fileMode`, `${at}.fileMode is ${d.fileMode} (0${d.fileMode.toString(8)} in octal), but it holds permission bits only: 0 to 4095 (07777 in octal), like 438 for 0666`);
    }
    if (d.uid !== undefined) checkId(`${at}.uid`, d.uid);
    if (d.gid !== undefined) checkId(`${at}.gid`, d.gid);
  });
}

/** Settings tslab has no means to apply are refused, never dropped: the container would differ from its config. */
function checkUnsupported(linux: NonNullable<Spec['linux']>, { err, noNul }: Checker): void {
  if (linux.mountLabel) {
    throw err('linux.mountLabel', 'linux.mountLabel is set, but SELinux is disabled or not supported: tslab does not apply SELinux labels to mounts; remove linux.mountLabel');
  }
  if (linux.intelRdt !== undefined && linux.intelRdt !== null) {
    throw err('linux.intelRdt', 'linux.intelRdt is set, but Intel RDT (cache and memory bandwidth allocation through /sys/fs/resctrl) is not supported by tslab; remove linux.intelRdt');
  }
  if (linux.personality !== undefined && linux.personality !== null) {
    throw err('linux.personality', 'linux.personality is set, but tslab does not change the execution domain (personality(2)); remove linux.personality');
  }
  (linux.maskedPaths ?? []).forEach((p, i) => noNul(`linux.maskedPaths[${i}]`, p));
  (linux.readonlyPaths ?? []).forEach((p, i) => noNul(`linux.readonlyPaths[${i}]`, p));
}

/** runc's config validator (libcontainer/configs/validate): things that need their namespace. */
function checkNamespaceNeeds(spec: Spec, namespaces: Set<string>, { err }: Checker): void {
  const linux = spec.linux;
  if (spec.hostname !== undefined && spec.hostname !== '' && !namespaces.has('uts')) {
    throw err('hostname', 'unable to set hostname without a private UTS namespace: add {"type": "uts"} to linux.namespaces, or remove "hostname"');
  }
  if (spec.domainname !== undefined && spec.domainname !== '' && !namespaces.has('uts')) {
    throw err('domainname', 'unable to set domainname without a private UTS namespace: add {"type": "uts"} to linux.namespaces, or remove "domainname"');
  }
  if (((linux?.maskedPaths ?? []).length > 0 || (linux?.readonlyPaths ?? []).length > 0) && !namespaces.has('mount')) {
    throw err(
      (linux?.maskedPaths ?? []).length > 0 ? 'linux.maskedPaths' : 'linux.readonlyPaths',
      'unable to restrict sys entries without a private MNT namespace: maskedPaths and readonlyPaths need {"type": "mount"} in linux.namespaces',
    );
  }
}

function checkSysctls(spec: Spec, namespaces: Set<string>, { err, noNul }: Checker): void {
  const linux = spec.linux;
  for (const [key, value] of Object.entries(linux?.sysctl ?? {})) {
    const at = `linux.sysctl[${JSON.stringify(key)}]`;
    const name = sysctlName(key);
    // An empty part names no sysctl. (On its way to a path under /proc/sys every dot becomes a slash, so
    // "net.ipv4.conf.all/../../../kernel/hostname" cannot climb out of net/; runc then fails with ENOENT.)
    if (name.split(/[./]/).some((part) => part === '')) {
      throw err(at, `sysctl ${JSON.stringify(key)} is not a sysctl name: names are parts separated by dots (or slashes), like "net.ipv4.ip_forward", with no empty part and no ".."`);
    }
    noNul(at, value);
    const needed = sysctlNamespace(name);
    if (needed === 'ipc' && !namespaces.has('ipc')) {
      throw err(at, `sysctl ${JSON.stringify(name)} is not allowed in the hosts ipc namespace: add {"type": "ipc"} to linux.namespaces`);
    }
    if (needed === 'network' && !namespaces.has('network')) {
      throw err(at, `sysctl ${JSON.stringify(name)} not allowed in host network namespace: add {"type": "network"} to linux.namespaces`);
    }
    if (name === 'kernel.hostname' && namespaces.has('uts')) {
      throw err(at, `sysctl ${JSON.stringify(name)} is not allowed as it conflicts with the OCI "hostname" field: set "hostname" instead`);
    }
    if (needed === undefined || (needed === 'uts' && !namespaces.has('uts'))) {
      throw err(at, `sysctl ${JSON.stringify(name)} is not in a separate kernel namespace: setting it would change the host for everyone`);
    }
  }
}

/** linux.resources: values the kernel would refuse, or that would not stay one cgroup command. */
export function checkResources(resources: Resources | undefined, err: (field: string, sentence: string) => SpecError): void {
  (resources?.devices ?? []).forEach((rule, i) => {
    for (const side of ['major', 'minor'] as const) {
      const n = rule[side];
      if (n !== undefined && (n < -1 || n > 0xffff_ffff)) {
        throw err(`linux.resources.devices[${i}].${side}`, `linux.resources.devices[${i}].${side} is ${n}, but a device rule's ${side} number is -1 (any) or 0 to 4294967295`);
      }
    }
  });
  const cpu = resources?.cpu;
  if (cpu?.period !== undefined && cpu.period !== 0 && (cpu.period < 1000 || cpu.period > 1_000_000)) {
    throw err('linux.resources.cpu.period', `linux.resources.cpu.period is ${cpu.period}, but the kernel takes a CFS period of 1000 to 1000000 microseconds (1 ms to 1 s)`);
  }
  // A negative quota means "no limit" to the kernel; 0 means "not set" to runc.
  if (cpu?.quota !== undefined && cpu.quota > 0 && (cpu.quota < 1000 || cpu.quota > CFS_QUOTA_MAX)) {
    throw err('linux.resources.cpu.quota', `linux.resources.cpu.quota is ${cpu.quota}, but a CFS quota is -1 (no limit) or 1000 to ${CFS_QUOTA_MAX} microseconds per period`);
  }
  if (cpu?.idle !== undefined && cpu.idle !== 0 && cpu.idle !== 1) {
    throw err('linux.resources.cpu.idle', `linux.resources.cpu.idle is ${cpu.idle}, but it is 0 or 1`);
  }
  const memory = resources?.memory;
  for (const field of ['limit', 'reservation', 'swap', 'kernel', 'kernelTCP'] as const) {
    const n = memory?.[field];
    if (n !== undefined && n < -1) {
      throw err(`linux.resources.memory.${field}`, `linux.resources.memory.${field} is ${n}, but it is -1 (no limit) or a number of bytes`);
    }
  }
  if (memory?.swappiness !== undefined && memory.swappiness > 100) {
    throw err('linux.resources.memory.swappiness', `linux.resources.memory.swappiness is ${memory.swappiness}, but it goes from 0 to 100`);
  }
  // Each value below ends up in a one-line cgroup command: numbers in range, names without separators.
  const blockIO = resources?.blockIO;
  const weight = (field: string, n: number | undefined): void => {
    if (n !== undefined && n !== 0 && (n < 10 || n > 1000)) throw err(field, `${field} is ${n}, but a block I/O weight goes from 10 to 1000 (0: not set)`);
  };
  const device = (field: string, d: { major: number; minor: number }): void => {
    if (d.major < 0 || d.major > MAX_MAJOR) throw err(`${field}.major`, `${field}.major is ${d.major}, but a device major number goes from 0 to ${MAX_MAJOR}`);
    if (d.minor < 0 || d.minor > MAX_MINOR) throw err(`${field}.minor`, `${field}.minor is ${d.minor}, but a device minor number goes from 0 to ${MAX_MINOR}`);
  };
  weight('linux.resources.blockIO.weight', blockIO?.weight);
  weight('linux.resources.blockIO.leafWeight', blockIO?.leafWeight);
  (blockIO?.weightDevice ?? []).forEach((d, i) => {
    const at = `linux.resources.blockIO.weightDevice[${i}]`;
    device(at, d);
    weight(`${at}.weight`, d.weight);
    weight(`${at}.leafWeight`, d.leafWeight);
  });
  for (const list of ['throttleReadBpsDevice', 'throttleWriteBpsDevice', 'throttleReadIOPSDevice', 'throttleWriteIOPSDevice'] as const) {
    (blockIO?.[list] ?? []).forEach((d, i) => device(`linux.resources.blockIO.${list}[${i}]`, d));
  }
  (resources?.hugepageLimits ?? []).forEach((h, i) => {
    if (!/^[1-9][0-9]{0,5}(KB|MB|GB)$/.test(h.pageSize)) {
      throw err(`linux.resources.hugepageLimits[${i}].pageSize`, `linux.resources.hugepageLimits[${i}].pageSize is ${JSON.stringify(h.pageSize)}, but a huge page size is written like "2MB" or "1GB"`);
    }
  });
  (resources?.network?.priorities ?? []).forEach((p, i) => {
    // The kernel's own rule for interface names (dev_valid_name): 1 to 15 bytes, no '/', ':' or white space.
    if (!/^[^/:\s]{1,15}$/.test(p.name) || p.name === '.' || p.name === '..' || Buffer.byteLength(p.name) > 15) {
      throw err(`linux.resources.network.priorities[${i}].name`, `linux.resources.network.priorities[${i}].name is ${JSON.stringify(p.name)}, but a network interface name is 1 to 15 bytes without "/", ":" or white space`);
    }
  });
  for (const name of Object.keys(resources?.rdma ?? {})) {
    if (!/^[^\s]{1,64}$/.test(name)) {
      throw err('linux.resources.rdma', `linux.resources.rdma names the device ${JSON.stringify(name)}, but an RDMA device name has no white space (like "mlx5_1")`);
    }
  }
}

/** The longest hook timeout in seconds: Node's timers count at most 2^31-1 milliseconds. */
const MAX_HOOK_TIMEOUT = Math.floor((2 ** 31 - 1) / 1000);
/** The most supplementary groups a process can have (NGROUPS_MAX, linux/limits.h). */
const NGROUPS_MAX = 65536;
/** The longest hostname or domainname (__NEW_UTS_LEN). */
const UTS_NAME_MAX = 64;
/** The kernel's dev_t in mknod(2): 12 bits of major, 20 of minor. */
const MAX_MAJOR = 0xfff;
const MAX_MINOR = 0xf_ffff;
/** The largest CFS quota the kernel takes, in microseconds (kernel/sched/core.c: max_cfs_runtime, 2^44-1 us, ~203 days). */
const CFS_QUOTA_MAX = 17_592_186_044_415;

/** CLONE_NEW* of each namespace type tslab can join (NS_GET_NSTYPE answers with these). */
const CLONE_FLAGS: Record<string, number> = {
  mount: 0x00020000,
  cgroup: 0x02000000,
  uts: 0x04000000,
  ipc: 0x08000000,
  user: 0x10000000,
  pid: 0x20000000,
  network: 0x40000000,
  time: 0x00000080,
};

/**
 * Checks what config.json names on this machine, as runc's validator does and a little more:
 *   - each namespace path is a namespace file of its type, looked at without blocking (a FIFO there would
 *     hang a blocking open for ever);
 *   - a net.* sysctl does not go to the runtime's own network namespace (runc: isHostNetNS, comparing
 *     device and inode with /proc/self/ns/net), even when that namespace is joined by a path;
 *   - likewise, beyond runc, an IPC sysctl to the runtime's own IPC namespace, and a hostname, domainname or
 *     kernel.domainname to its own UTS namespace: each would change the host for everyone.
 */
export function checkAgainstHost(src: Located, spec: Spec, locs: Locations): void {
  const err = (field: string, sentence: string): SpecError => src.error(locs.get(field), field, sentence);
  const joined = new Map<string, { index: number; path: string; dev: number; ino: number }>();
  (spec.linux?.namespaces ?? []).forEach((ns, index) => {
    if (!ns.path) return;
    const at = `linux.namespaces[${index}].path`;
    const like = `a file like /proc/<pid>/ns/${nsFile(ns.type)}, or one that \`ip netns add\` bind-mounted`;
    let fd: number;
    try {
      fd = fs.openSync(ns.path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'cannot be opened: permission denied' : `cannot be opened (${code ?? (e as Error).message})`;
      throw err(at, `${at} ${JSON.stringify(ns.path)} ${why}: it must name the ${ns.type} namespace to join, ${like}`);
    }
    try {
      let type: number | undefined;
      try {
        if (fstatfsType(fd, ns.path) === NSFS_MAGIC) type = namespaceType(fd, ns.path);
      } catch {
        // Not a namespace file: said below with what it is.
      }
      const st = fs.fstatSync(fd);
      if (type === undefined) {
        throw err(at, `${at} ${JSON.stringify(ns.path)} is ${fileKind(st)}, not a namespace file: to join a ${ns.type} namespace give ${like}`);
      }
      if (type !== CLONE_FLAGS[ns.type]) {
        const actual = Object.keys(CLONE_FLAGS).find((name) => CLONE_FLAGS[name] === type) ?? `an unknown (0x${type.toString(16)})`;
        throw err(at, `${at} ${JSON.stringify(ns.path)} is a ${actual} namespace, but linux.namespaces[${index}] is of type ${ns.type}: give ${like}`);
      }
      joined.set(ns.type, { index, path: ns.path, dev: st.dev, ino: st.ino });
    } finally {
      fs.closeSync(fd);
    }
  });

  /** The sentence's end when `type` is joined by a path that is the runtime's own namespace, else undefined. */
  const ownNamespace = (type: string): string | undefined => {
    const ns = joined.get(type);
    if (!ns) return undefined;
    const own = fs.statSync(`/proc/self/ns/${nsFile(type)}`);
    if (own.dev !== ns.dev || own.ino !== ns.ino) return undefined;
    return `linux.namespaces[${ns.index}].path ${JSON.stringify(ns.path)} is the host's own ${type} namespace (the one this runtime runs in), so this would change the host`;
  };

  // Beyond runc: the host's own mount namespace joined by path would run the container in the host's file
  // system, root.path and every mount silently skipped (a joined mount namespace is taken as set up already).
  const hostMounts = ownNamespace('mount');
  if (hostMounts) {
    const at = `linux.namespaces[${joined.get('mount')!.index}].path`;
    throw err(at, `the container cannot join the host's mount namespace: ${hostMounts} (its root.path and mounts would be ignored and it would see the host's files); leave the path out to give it a mount namespace of its own`);
  }

  for (const key of Object.keys(spec.linux?.sysctl ?? {})) {
    const name = sysctlName(key);
    const type = name === 'kernel.domainname' ? 'uts' : sysctlNamespace(name);
    const host = type && ownNamespace(type);
    if (!host) continue;
    const at = `linux.sysctl[${JSON.stringify(key)}]`;
    if (type === 'network') throw err(at, `sysctl ${JSON.stringify(name)} not allowed in host network namespace: ${host}`);
    if (type === 'ipc') throw err(at, `sysctl ${JSON.stringify(name)} is not allowed in the hosts ipc namespace: ${host}`);
    throw err(at, `sysctl ${JSON.stringify(name)} is not allowed in the host's UTS namespace: ${host}`);
  }
  // The kernel refuses an open-file limit above fs.nr_open with EPERM, even for root (and "no limit" is above it).
  (spec.process?.rlimits ?? []).forEach((rl, i) => {
    if (rl.type !== 'RLIMIT_NOFILE') return;
    const nrOpen = Number(fs.readFileSync('/proc/sys/fs/nr_open', 'utf8'));
    for (const side of ['soft', 'hard'] as const) {
      if (rl[side] > nrOpen) {
        const value = rl[side] >= 2 ** 64 - 1 ? `${RLIM_INFINITY} (no limit)` : String(rl[side]);
        throw err(`process.rlimits[${i}].${side}`, `process.rlimits[${i}].${side} is ${value}, but RLIMIT_NOFILE can be at most fs.nr_open (${nrOpen} here): setrlimit(2) refuses more, even for root`);
      }
    }
  });

  for (const field of ['hostname', 'domainname'] as const) {
    const host = spec[field] ? ownNamespace('uts') : undefined;
    if (host) throw err(field, `unable to set ${field} in the host's UTS namespace: ${host}`);
  }
}

function nsFile(type: string): string {
  return ({ network: 'net', mount: 'mnt' } as Record<string, string>)[type] ?? type;
}
