// The bpf(2) system call: load an eBPF program into the kernel and attach it to a cgroup.
//
// glibc has no wrapper for bpf(2), so it goes through syscall(2) with the x86-64 number 321. Every command takes a
// pointer to `union bpf_attr` and its size; each command reads its own struct of that union. The structs are laid
// out here by hand in a Buffer (little-endian, __aligned_u64 fields on 8-byte boundaries). A field holding a pointer
// (the instructions, the license string, the verifier log) points into the same Buffer as the attr, so the only
// thing handed to the kernel is that one Buffer, alive for the whole call.
//
// The size passed with each command covers just the fields used; the kernel zero-fills the rest of its own, larger
// union, so these calls work on old and new kernels alike.
//
// Nothing here knows about containers: see src/runtime/cgroups/device-filter.ts for the program tslab builds.

import { errno, fn, koffi } from './libc.js';
import { SyscallError } from './error.js';
import { errnoName, errnoNumber } from './errno.js';

const SYS_BPF = 321; // x86-64

// enum bpf_cmd
export const BPF_PROG_LOAD = 5;
export const BPF_PROG_ATTACH = 8;
export const BPF_PROG_DETACH = 9;
export const BPF_PROG_GET_FD_BY_ID = 13;
export const BPF_PROG_QUERY = 16;

// enum bpf_prog_type
export const BPF_PROG_TYPE_CGROUP_DEVICE = 15;

// enum bpf_attach_type
export const BPF_CGROUP_DEVICE = 6;

// attach flags
/** Several programs may be attached to the cgroup (each must allow an access); without it, only one. */
export const BPF_F_ALLOW_MULTI = 2;

const EACCES = errnoNumber('EACCES')!;
const EINVAL = errnoNumber('EINVAL')!;
const ENOSPC = errnoNumber('ENOSPC')!;

/** Bytes per eBPF instruction (struct bpf_insn). */
export const BPF_INSN_SIZE = 8;

const VERIFIER_LOG_SIZE = 256 * 1024;

/** A failed bpf(2) command. For BPF_PROG_LOAD rejected by the verifier, `verifierLog` holds the kernel's reasons. */
export class BpfError extends SyscallError {
  readonly verifierLog: string | undefined;

  constructor(command: string, errnum: number, detail?: string, verifierLog?: string) {
    super(`bpf(${command})`, errnum, undefined, detail);
    this.name = 'BpfError';
    this.verifierLog = verifierLog;
  }
}

function bpf(cmd: number, attr: Buffer, size: number): number {
  const call = fn('long syscall(long nr, int cmd, void *attr, unsigned int size)');
  const r = call(SYS_BPF, cmd, attr, size) as number | bigint;
  return r === -1 || r === -1n ? -1 : Number(r);
}

/** Copy `text` as a NUL-terminated C string into `buf` at `offset`; returns the offset after it. */
function putCString(buf: Buffer, offset: number, text: string): number {
  const n = buf.write(text, offset, 'utf8');
  buf[offset + n] = 0;
  return offset + n + 1;
}

const align8 = (n: number): number => (n + 7) & ~7;

function loadHint(code: string): string {
  switch (code) {
    case 'EPERM':
      return 'loading eBPF programs needs CAP_BPF or CAP_SYS_ADMIN (run as root); on kernels before 5.11 the program ' +
        'is also charged to RLIMIT_MEMLOCK (ulimit -l)';
    case 'EINVAL':
      return 'the kernel does not accept this program type or an attribute (kernel too old, or built without ' +
        'CONFIG_CGROUP_BPF)';
    case 'E2BIG':
      return 'the program is too large for the kernel';
    case 'ENOSYS':
      return 'this kernel has no bpf(2) system call (CONFIG_BPF_SYSCALL is off)';
    default:
      return 'the kernel refused to load the eBPF program';
  }
}

/**
 * BPF_PROG_LOAD a BPF_PROG_TYPE_CGROUP_DEVICE program; returns its fd (close-on-exec, as every bpf fd).
 * `insns` is the raw instruction array (8 bytes each). The license string is the kernel's MODULE_LICENSE format
 * ("GPL", "Apache", "MIT"...); device programs call no GPL-only helper, so any license works.
 * If the verifier rejects the program (EACCES, EINVAL), the load is repeated with a log buffer and the log is put
 * into the error (`BpfError.verifierLog`): the verifier says instruction by instruction what it did not like.
 */
export function bpfProgLoadCgroupDevice(insns: Buffer, license: string, name = ''): number {
  if (insns.length === 0 || insns.length % BPF_INSN_SIZE !== 0) {
    throw new BpfError('BPF_PROG_LOAD', EINVAL, `the program is ${insns.length} bytes, not a whole number of 8-byte instructions`);
  }
  if (!/^[A-Za-z0-9_.]{0,15}$/.test(name)) {
    throw new BpfError('BPF_PROG_LOAD', EINVAL, `program name "${name}": at most 15 letters, digits, "_" or "."`);
  }
  const first = load(insns, license, name, 0);
  if (first.fd >= 0) return first.fd;
  if (first.errno !== EACCES && first.errno !== EINVAL) {
    throw new BpfError('BPF_PROG_LOAD', first.errno, loadHint(errnoName(first.errno)));
  }
  // Again, with the verifier's log this time (the log costs verifier time: only ask for it when needed).
  const second = load(insns, license, name, VERIFIER_LOG_SIZE);
  if (second.fd >= 0) return second.fd; // should not happen: the program is the same
  const log = second.log.trim();
  // ENOSPC here means only that the log did not fit: the real failure is the first one.
  const errnum = second.errno === ENOSPC ? first.errno : second.errno;
  if (log === '') throw new BpfError('BPF_PROG_LOAD', errnum, loadHint(errnoName(errnum)));
  throw new BpfError('BPF_PROG_LOAD', errnum, `the kernel's verifier rejected the program:\n${log}`, log);
}

function load(insns: Buffer, license: string, name: string, logSize: number): { fd: number; errno: number; log: string } {
  // Layout: [attr 72 bytes][instructions][license\0][log]
  const ATTR = 72;
  const INSNS = ATTR;
  const LICENSE = align8(INSNS + insns.length);
  const LOG = align8(LICENSE + Buffer.byteLength(license) + 1);
  const arena = Buffer.alloc(LOG + logSize);
  const base = koffi.address(arena);
  insns.copy(arena, INSNS);
  putCString(arena, LICENSE, license);

  arena.writeUInt32LE(BPF_PROG_TYPE_CGROUP_DEVICE, 0); // prog_type
  arena.writeUInt32LE(insns.length / BPF_INSN_SIZE, 4); // insn_cnt
  arena.writeBigUInt64LE(base + BigInt(INSNS), 8); // insns
  arena.writeBigUInt64LE(base + BigInt(LICENSE), 16); // license
  arena.writeUInt32LE(logSize > 0 ? 1 : 0, 24); // log_level
  arena.writeUInt32LE(logSize, 28); // log_size
  arena.writeBigUInt64LE(logSize > 0 ? base + BigInt(LOG) : 0n, 32); // log_buf
  // 40 kern_version (unused), 44 prog_flags = 0
  arena.write(name, 48, 15, 'utf8'); // prog_name[16] (visible in `bpftool prog list`)
  // 64 prog_ifindex = 0, 68 expected_attach_type = 0 (not needed for cgroup device programs)

  const fd = bpf(BPF_PROG_LOAD, arena, ATTR);
  const err = fd < 0 ? errno() : 0;
  let log = '';
  if (logSize > 0) {
    const logBytes = arena.subarray(LOG);
    const end = logBytes.indexOf(0);
    log = logBytes.toString('utf8', 0, end < 0 ? logBytes.length : end);
  }
  return { fd, errno: err, log };
}

/**
 * BPF_PROG_ATTACH: attach the program `progFd` to the target (`targetFd`: an open cgroup2 directory for cgroup
 * attach types). The attachment holds a reference to the program: the fds can be closed afterwards, and the program
 * lives as long as it stays attached (at the latest until the cgroup is removed).
 * `replaceFd` (with BPF_F_REPLACE, Linux 5.6) is not offered: see bpfProgDetach for replacing a program.
 */
export function bpfProgAttach(targetFd: number, progFd: number, attachType: number, flags: number): void {
  const attr = Buffer.alloc(16);
  attr.writeUInt32LE(targetFd, 0); // target_fd
  attr.writeUInt32LE(progFd, 4); // attach_bpf_fd
  attr.writeUInt32LE(attachType, 8); // attach_type
  attr.writeUInt32LE(flags, 12); // attach_flags
  if (bpf(BPF_PROG_ATTACH, attr, attr.length) < 0) {
    const e = errno();
    throw new BpfError('BPF_PROG_ATTACH', e, attachHint(errnoName(e)));
  }
}

function attachHint(code: string): string {
  switch (code) {
    case 'EPERM':
      return 'attaching needs CAP_NET_ADMIN/CAP_SYS_ADMIN, and a cgroup that already has a program attached without ' +
        'BPF_F_ALLOW_MULTI takes no other (nor may flags differ from those of programs already attached)';
    case 'EBADF':
      return 'the target or program fd is not open';
    case 'EINVAL':
      return 'the target is not a cgroup2 directory, or the program type does not fit the attach type';
    case 'E2BIG':
      return 'too many programs attached to this cgroup (64 at most)';
    default:
      return 'the kernel refused to attach the program';
  }
}

/** BPF_PROG_DETACH: detach the program `progFd` from the target (it must be attached there with this attach type). */
export function bpfProgDetach(targetFd: number, progFd: number, attachType: number): void {
  const attr = Buffer.alloc(16);
  attr.writeUInt32LE(targetFd, 0); // target_fd
  attr.writeUInt32LE(progFd, 4); // attach_bpf_fd
  attr.writeUInt32LE(attachType, 8); // attach_type
  if (bpf(BPF_PROG_DETACH, attr, attr.length) < 0) {
    const e = errno();
    throw new BpfError('BPF_PROG_DETACH', e, errnoName(e) === 'ENOENT' ? 'this program is not attached there' : undefined);
  }
}

export interface BpfProgQueryResult {
  /** Flags the programs were attached with (BPF_F_ALLOW_MULTI...). */
  attachFlags: number;
  /** Ids of the programs attached directly to the target (not inherited from parent cgroups), in run order. */
  progIds: number[];
}

/** BPF_PROG_QUERY: which programs of `attachType` are attached to the target. */
export function bpfProgQuery(targetFd: number, attachType: number): BpfProgQueryResult {
  let room = 64; // the kernel allows 64 programs per cgroup and attach type
  for (let attempt = 0; attempt < 5; attempt++) {
    // Layout: [attr 32 bytes][prog ids: u32 each]
    const ATTR = 32;
    const arena = Buffer.alloc(ATTR + 4 * room);
    arena.writeUInt32LE(targetFd, 0); // target_fd
    arena.writeUInt32LE(attachType, 4); // attach_type
    arena.writeUInt32LE(0, 8); // query_flags (BPF_F_QUERY_EFFECTIVE would include the parents' programs)
    arena.writeBigUInt64LE(koffi.address(arena) + BigInt(ATTR), 16); // prog_ids
    arena.writeUInt32LE(room, 24); // prog_cnt: in, room; out, how many
    const r = bpf(BPF_PROG_QUERY, arena, ATTR);
    const count = arena.readUInt32LE(24);
    if (r < 0) {
      const e = errno();
      if (e === ENOSPC && count > room) {
        room = count; // more programs than room: the kernel said how many
        continue;
      }
      throw new BpfError('BPF_PROG_QUERY', e);
    }
    const progIds: number[] = [];
    for (let i = 0; i < count; i++) progIds.push(arena.readUInt32LE(ATTR + 4 * i));
    return { attachFlags: arena.readUInt32LE(12), progIds };
  }
  throw new BpfError('BPF_PROG_QUERY', ENOSPC, 'the number of attached programs kept changing');
}

/** BPF_PROG_GET_FD_BY_ID: an fd for the loaded program with this id (needs CAP_SYS_ADMIN). */
export function bpfProgGetFdById(id: number): number {
  const attr = Buffer.alloc(12);
  attr.writeUInt32LE(id, 0); // prog_id
  const fd = bpf(BPF_PROG_GET_FD_BY_ID, attr, attr.length);
  if (fd < 0) {
    const e = errno();
    throw new BpfError('BPF_PROG_GET_FD_BY_ID', e, errnoName(e) === 'ENOENT' ? `no program with id ${id} (unloaded?)` : undefined);
  }
  return fd;
}

let supported: boolean | undefined;

/**
 * Can this process load BPF_PROG_TYPE_CGROUP_DEVICE programs? Probed once by loading "r0 = 1; exit" (a program
 * that allows everything, never attached) and closing it again.
 */
export function bpfCgroupDeviceSupported(): boolean {
  if (supported === undefined) {
    const allowAll = Buffer.from([0xb4, 0x00, 0, 0, 1, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]); // w0 = 1; exit
    try {
      const fd = bpfProgLoadCgroupDevice(allowAll, 'GPL');
      fn('int close(int fd)')(fd);
      supported = true;
    } catch {
      supported = false;
    }
  }
  return supported;
}
