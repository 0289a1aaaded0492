// `features`: what this runtime supports, as the runtime-spec's features document (features.md) says it, for
// engines that ask before they build a config.json.
//
// Nothing is claimed from a list kept by hand: each namespace, seccomp action, operator, architecture and flag is
// offered to the same config.json reader `create` uses, and listed only if it is accepted. So the document
// changes by itself when the reader learns (or refuses) something.

import { resolveSyscall } from '../../linux/seccomp.js';
import { CAPABILITIES } from '../process/capability-names.js';
import { knownMountOptions } from '../init/mount-options.js';
import { defaultSpec, formatSpec } from '../spec/default-spec.js';
import { parseSpec } from '../spec/load.js';
import { seccompProblem } from '../spec/seccomp-profile.js';
import type { Seccomp, Spec } from '../spec/types.js';

/** Names runc 1.1.5 knows (`runc features`): the candidates each probe below tries. */
const NAMESPACES = ['cgroup', 'ipc', 'mount', 'network', 'pid', 'time', 'user', 'uts'];
const SECCOMP_ACTIONS = [
  'SCMP_ACT_ALLOW', 'SCMP_ACT_ERRNO', 'SCMP_ACT_KILL', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_LOG',
  'SCMP_ACT_NOTIFY', 'SCMP_ACT_TRACE', 'SCMP_ACT_TRAP',
];
const SECCOMP_OPERATORS = ['SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_LE', 'SCMP_CMP_LT', 'SCMP_CMP_MASKED_EQ', 'SCMP_CMP_NE'];
const SECCOMP_ARCHS = [
  'SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM', 'SCMP_ARCH_MIPS', 'SCMP_ARCH_MIPS64', 'SCMP_ARCH_MIPS64N32', 'SCMP_ARCH_MIPSEL',
  'SCMP_ARCH_MIPSEL64', 'SCMP_ARCH_MIPSEL64N32', 'SCMP_ARCH_PPC', 'SCMP_ARCH_PPC64', 'SCMP_ARCH_PPC64LE', 'SCMP_ARCH_S390',
  'SCMP_ARCH_S390X', 'SCMP_ARCH_X32', 'SCMP_ARCH_X86', 'SCMP_ARCH_X86_64',
];
const SECCOMP_FLAGS = ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW', 'SECCOMP_FILTER_FLAG_TSYNC'];
const HOOKS = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'];

/** Does the config.json reader accept the default spec changed by `change`? */
function accepted(change: (spec: Spec) => void): boolean {
  const spec = defaultSpec({ terminal: false });
  change(spec);
  try {
    parseSpec(formatSpec(spec), 'config.json');
    return true;
  } catch {
    return false;
  }
}

function namespaceSupported(type: string): boolean {
  return accepted((spec) => {
    const linux = spec.linux!;
    linux.namespaces = [...(linux.namespaces ?? []).filter((ns) => ns.type !== type), { type } as never];
    if (type === 'user') {
      linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    }
  });
}

/** The names among `candidates` that a seccomp profile may use, by asking the profile checker. */
function seccompAccepts(candidates: string[], profile: (name: string) => Seccomp): string[] {
  return candidates.filter((name) => seccompProblem(profile(name)) === undefined);
}

/** libseccomp can be loaded (and knows this machine's system calls). */
function libseccompWorks(): boolean {
  try {
    return resolveSyscall('read') !== undefined;
  } catch {
    return false;
  }
}

export function features(specVersion: string): Record<string, unknown> {
  const rule = (action: string, args?: Seccomp['syscalls']): Seccomp => ({
    defaultAction: action === 'SCMP_ACT_ALLOW' ? 'SCMP_ACT_ERRNO' : 'SCMP_ACT_ALLOW',
    syscalls: args ?? [{ names: ['getpid'], action }],
  });
  const seccompEnabled = libseccompWorks();
  return {
    ociVersionMin: '1.0.0',
    ociVersionMax: specVersion,
    hooks: HOOKS,
    mountOptions: knownMountOptions(),
    linux: {
      namespaces: NAMESPACES.filter(namespaceSupported),
      capabilities: [...CAPABILITIES],
      cgroup: { v1: true, v2: true, systemd: false, systemdUser: false, rdma: true },
      seccomp: {
        enabled: seccompEnabled,
        actions: seccompEnabled ? seccompAccepts(SECCOMP_ACTIONS, (a) => rule(a)) : [],
        operators: seccompEnabled
          ? seccompAccepts(SECCOMP_OPERATORS, (op) => rule('SCMP_ACT_ERRNO', [{ names: ['getpid'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 1, valueTwo: 1, op }] }]))
          : [],
        archs: seccompEnabled ? seccompAccepts(SECCOMP_ARCHS, (arch) => ({ ...rule('SCMP_ACT_ERRNO'), architectures: [arch] })) : [],
        knownFlags: SECCOMP_FLAGS,
        supportedFlags: seccompEnabled ? seccompAccepts(SECCOMP_FLAGS, (flag) => ({ ...rule('SCMP_ACT_ERRNO'), flags: [flag] })) : [],
      },
      apparmor: { enabled: false },
      selinux: { enabled: false },
      intelRdt: { enabled: false },
    },
    annotations: {},
  };
}
