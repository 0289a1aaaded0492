// seccomp profiles for tests, made at test time (nothing copied from an engine's profile):
//   - `allowListProfile`: the shape podman and docker send (default SCMP_ACT_ERRNO with errno 38, an allow
//     list of hundreds of names, some of them unknown to libseccomp, argument rules for personality and
//     clone), built from the system-call table of this machine's libseccomp;
//   - `engineProfile`: an installed engine profile in docker's file format (podman's
//     /usr/share/containers/seccomp.json, from Debian's golang-github-containers-common) turned into
//     config.json's linux.seccomp the way the engines do it: entries kept or dropped by the container's
//     capabilities, the architecture and the kernel version.
import * as fs from 'node:fs';
import * as os from 'node:os';
import { createRequire } from 'node:module';
import type KoffiModule from 'koffi';

export const PODMAN_PROFILE = '/usr/share/containers/seccomp.json';

/** Names no libseccomp 2.5.4 knows (newer kernels' calls, and one that never existed): rules for them are skipped. */
export const UNKNOWN_NAMES = ['mseal', 'listmount', 'statmount', 'lsm_get_self_attr', 'tslab_not_a_syscall'];

/** clone flags that make namespaces (CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET): docker's clone mask. */
export const CLONE_NAMESPACE_MASK = 0x7e020000;

/** personality(2) values docker and podman allow: PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32, query. */
export const ALLOWED_PERSONALITIES = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];

/** Every system-call name libseccomp knows on this machine's architecture. */
export function nativeSyscallNames(): string[] {
  const koffi = createRequire(import.meta.url)('koffi') as typeof KoffiModule;
  const lib = koffi.load('libseccomp.so.2');
  const nameOf = lib.func('void *seccomp_syscall_resolve_num_arch(uint32_t arch, int num)');
  const free = koffi.load('libc.so.6').func('void free(void *p)');
  const names: string[] = [];
  for (let nr = 0; nr < 1024; nr++) {
    const ptr = nameOf(0, nr) as unknown; // arch 0: the native one
    if (!ptr) continue;
    names.push(koffi.decode(ptr, 'char', -1) as string);
    free(ptr);
  }
  return names;
}

export interface AllowListOptions {
  /** Left out of the allow list: they fail with the default errno (38, ENOSYS). */
  deny?: string[];
  /** Extra entries, after the allow list. */
  extra?: object[];
}

/** podman's and docker's shape, built here: default ERRNO(38), hundreds of allowed names, argument rules. */
export function allowListProfile(opts: AllowListOptions = {}): Record<string, unknown> {
  const deny = new Set(['personality', 'clone', ...(opts.deny ?? [])]);
  const names = nativeSyscallNames().filter((n) => !deny.has(n));
  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: 38,
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
    syscalls: [
      { names: [...names, ...UNKNOWN_NAMES], action: 'SCMP_ACT_ALLOW' },
      ...ALLOWED_PERSONALITIES.map((value) => ({ names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value, valueTwo: 0, op: 'SCMP_CMP_EQ' }] })),
      { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: CLONE_NAMESPACE_MASK, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] },
      { names: ['kexec_load', 'open_by_handle_at', ...UNKNOWN_NAMES.slice(0, 2)], action: 'SCMP_ACT_ERRNO', errnoRet: 1 },
      ...(opts.extra ?? []),
    ],
  };
}

interface EngineEntry {
  names?: string[];
  name?: string;
  action: string;
  errnoRet?: number;
  args?: object[] | null;
  includes?: { caps?: string[]; arches?: string[]; minKernel?: string };
  excludes?: { caps?: string[]; arches?: string[]; minKernel?: string };
}

interface EngineProfile {
  defaultAction: string;
  defaultErrnoRet?: number;
  archMap?: Array<{ architecture: string; subArchitectures: string[] }>;
  syscalls?: EngineEntry[];
}

function kernelAtLeast(version: string): boolean {
  const have = os.release().split(/[.-]/).map(Number);
  const want = version.split('.').map(Number);
  for (let i = 0; i < want.length; i++) {
    if ((have[i] ?? 0) !== want[i]) return (have[i] ?? 0) > want[i];
  }
  return true;
}

/**
 * An engine profile file (docker's format) as config.json's linux.seccomp for an x86-64 container whose
 * bounding set is `caps`; undefined when the file is not installed.
 */
export function engineProfile(file: string, caps: string[]): Record<string, unknown> | undefined {
  if (!fs.existsSync(file)) return undefined;
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as EngineProfile;
  const arch = 'amd64';
  const native = profile.archMap?.find((a) => a.architecture === 'SCMP_ARCH_X86_64');
  const syscalls = (profile.syscalls ?? [])
    .filter((e) => {
      const inc = e.includes ?? {};
      const exc = e.excludes ?? {};
      if (inc.arches?.length && !inc.arches.includes(arch)) return false;
      if (inc.caps?.length && !inc.caps.every((c) => caps.includes(c))) return false;
      if (inc.minKernel && !kernelAtLeast(inc.minKernel)) return false;
      if (exc.arches?.includes(arch)) return false;
      if (exc.caps?.some((c) => caps.includes(c))) return false;
      return true;
    })
    .map((e) => ({
      names: e.names ?? (e.name ? [e.name] : []),
      action: e.action,
      ...(e.errnoRet === undefined ? {} : { errnoRet: e.errnoRet }),
      args: e.args ?? [],
    }));
  return {
    defaultAction: profile.defaultAction,
    ...(profile.defaultErrnoRet === undefined ? {} : { defaultErrnoRet: profile.defaultErrnoRet }),
    architectures: native ? [native.architecture, ...native.subArchitectures] : ['SCMP_ARCH_X86_64'],
    syscalls,
  };
}
