// cgroup v2 device rules: OCI linux.resources.devices -> an eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE).
//
// cgroup v2 has no devices.allow/devices.deny files. Instead, a program attached to the cgroup runs each time a
// process in it opens a device node (access r and/or w) or creates one with mknod (access m), and answers
// 1 (allow) or 0 (deny: the syscall fails with EPERM). The kernel hands it a pointer (register r1) to
//
//   struct bpf_cgroup_dev_ctx {
//     u32 access_type;   // low 16 bits: device type (BPF_DEVCG_DEV_BLOCK 1, _CHAR 2)
//                        // high 16 bits: access bits (BPF_DEVCG_ACC_MKNOD 1, _READ 2, _WRITE 4)
//     u32 major;
//     u32 minor;
//   };
//
// Semantics (the same as tslab's v1 replay of the rules): rules are read in order and the LAST matching rule wins,
// everything not matched is denied. Precisely, for each access bit requested, the last rule that matches the device
// (type, major, minor; "a" and -1/unset are wildcards) and lists that bit decides it; the access is allowed only if
// every requested bit is allowed. So the program walks the rules backwards, keeping the bits still undecided in r3:
//
//   deny rule that matches the device and lists a bit of r3     -> return 0
//   allow rule that matches the device                          -> r3 &= ~rule bits; if r3 is empty, return 1
//   no rule left                                                -> return 0
//
// (An open(O_RDWR) asks for r and w at once: "allow c 1:3 r" then "allow c 1:3 w" allows it, "allow c 1:3 rw" then
// "deny c 1:3 w" does not. The kernel also asks with no access bit at all, for access(X_OK)-style checks: then the
// last rule matching the device decides, whatever its access, as in v1.)
//
// Allowing r and w from two different rules is more than v1 does (v1 wants one exception covering the whole
// request, unless the rules name the same device) but grants nothing new: the process could open the device once
// for reading and once for writing.
//
// Differences from the v1 kernel's own bookkeeping, which runc reproduces with an emulator (devices/emulator.go):
//  - v1 cannot punch a hole in a wildcard: in default-deny mode, "deny c 1:3" removes only an exception that is
//    exactly c 1:3, so after "allow c *:* rwm" the device stays allowed. Here the later deny wins, as one would read
//    the rules (and as crun does).
//  - v1 treats any rule of type "a" as "a *:* rwm" (switch the whole cgroup to allow-all or deny-all). Here "a" only
//    means "any type": "allow a 1:3 r" allows block and char 1:3 for reading, nothing else (the OCI spec's reading).
// For the rules runtimes actually write (deny all first, then allows; runc's default list) both give the same result.
//
// The generated code for [deny a *:* rwm, allow c 1:3 rwm, allow c 136:* rw] (the deny-all rule becomes the final
// "return 0": rules before the last "a *:* rwm" are never reached, so they are left out):
//
//    0: r2 = *(u32 *)(r1 + 0)          load ctx->access_type
//    1: w2 &= 0xffff                   r2 = device type
//    2: r3 = *(u32 *)(r1 + 0)
//    3: w3 >>= 16                      r3 = access bits asked for
//    4: r4 = *(u32 *)(r1 + 4)          r4 = major
//    5: r5 = *(u32 *)(r1 + 8)          r5 = minor
//    6: if r2 != 0x2 goto +5           allow c 136:* rw (the last rule comes first)
//    7: if r4 != 0x88 goto +4
//    8: w3 &= 0x1                      r and w are decided: allowed
//    9: if r3 != 0x0 goto +2           m was asked for too: let the earlier rules decide it
//   10: w0 = 1
//   11: exit
//   12: if r2 != 0x2 goto +4           allow c 1:3 rwm
//   13: if r4 != 0x1 goto +3
//   14: if r5 != 0x3 goto +2
//   15: w0 = 1
//   16: exit
//   17: w0 = 0                         deny a *:* rwm (or: no rule matched)
//   18: exit
//
// (print any program with disassembleDeviceFilter()).

import type { DeviceRule } from '../spec/types.js';
import { deviceRuleString } from './devices.js';

export const BPF_DEVCG_DEV_BLOCK = 1;
export const BPF_DEVCG_DEV_CHAR = 2;
export const BPF_DEVCG_ACC_MKNOD = 1;
export const BPF_DEVCG_ACC_READ = 2;
export const BPF_DEVCG_ACC_WRITE = 4;
const ACC_ALL = BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE;

/** One eBPF instruction (struct bpf_insn). */
export interface BpfInsn {
  /** Opcode: class (low 3 bits), source (K = immediate, X = register), operation. */
  code: number;
  dst: number;
  src: number;
  /** Signed 16-bit: memory offset, or jump distance in instructions counted from the next one. */
  off: number;
  /** Signed 32-bit immediate. */
  imm: number;
}

// The opcodes this generator emits (see the kernel's Documentation/bpf/standardization/instruction-set.rst).
// Class: LDX 0x01, ALU (32-bit) 0x04, JMP (64-bit compare) 0x05. Source: K 0x00, X 0x08. Size W (32-bit) 0x00.
export const OP = {
  LDX_MEM_W: 0x61, // dst = *(u32 *)(src + off)
  ALU32_AND_K: 0x54, // dst = (u32)(dst & imm)
  ALU32_RSH_K: 0x74, // dst = (u32)dst >> imm
  ALU32_MOV_K: 0xb4, // dst = (u32)imm
  ALU32_MOV_X: 0xbc, // dst = (u32)src
  JMP_JEQ_K: 0x15, // if dst == imm goto +off
  JMP_JNE_K: 0x55, // if dst != imm goto +off
  JMP_EXIT: 0x95, // return r0
} as const;

const R0 = 0;
const R1 = 1; // the context pointer on entry; scratch once the fields are loaded
const R2 = 2; // device type
const R3 = 3; // access bits still undecided
const R4 = 4; // major
const R5 = 5; // minor

const insn = (code: number, dst: number, src: number, off: number, imm: number): BpfInsn => ({ code, dst, src, off, imm });
const ret = (v: 0 | 1): BpfInsn[] => [insn(OP.ALU32_MOV_K, R0, 0, 0, v), insn(OP.JMP_EXIT, 0, 0, 0, 0)];

/**
 * The kernel's majors are 12 bits and minors 20 bits: a rule naming a number the 32-bit JMP immediate cannot hold
 * (above 2^31 - 1) can never match a device, and is left out.
 */
const MAX_IMM = 0x7fffffff;

interface ParsedRule {
  allow: boolean;
  type: number | undefined; // undefined: any
  major: number | undefined;
  minor: number | undefined;
  access: number;
}

function parse(rule: DeviceRule, index: number | undefined): ParsedRule {
  deviceRuleString(rule, index); // validates type, numbers and access, with the rule's index in the message
  const type = rule.type === 'c' ? BPF_DEVCG_DEV_CHAR : rule.type === 'b' ? BPF_DEVCG_DEV_BLOCK : undefined;
  const num = (n: number | undefined): number | undefined => (n === undefined || n === -1 ? undefined : n);
  let access = 0;
  for (const ch of rule.access ?? '') {
    access |= ch === 'r' ? BPF_DEVCG_ACC_READ : ch === 'w' ? BPF_DEVCG_ACC_WRITE : BPF_DEVCG_ACC_MKNOD;
  }
  return { allow: rule.allow, type, major: num(rule.major), minor: num(rule.minor), access };
}

const isFullWildcard = (r: ParsedRule): boolean =>
  r.type === undefined && r.major === undefined && r.minor === undefined && r.access === ACC_ALL;

/** The instructions of one rule; a jump to "next rule" goes to the end of the block. */
function ruleBlock(r: ParsedRule): BpfInsn[] {
  const body: Array<BpfInsn | 'next'> = [];
  const jneNext = (reg: number, value: number): void => {
    body.push(insn(OP.JMP_JNE_K, reg, 0, 0, value), 'next');
  };
  if (r.type !== undefined) jneNext(R2, r.type);
  if (r.major !== undefined) jneNext(R4, r.major);
  if (r.minor !== undefined) jneNext(R5, r.minor);
  if (r.allow) {
    // The bits this rule lists are allowed (no later rule denied them, or we would have returned already).
    if (r.access !== ACC_ALL) {
      body.push(insn(OP.ALU32_AND_K, R3, 0, 0, ~r.access & ACC_ALL));
      body.push(insn(OP.JMP_JNE_K, R3, 0, 0, 0), 'next'); // bits left for earlier rules to decide
    }
    body.push(...ret(1));
  } else {
    // With all of rwm listed the rule decides whatever is left in r3 (even nothing): deny.
    if (r.access !== ACC_ALL) {
      body.push(insn(OP.JMP_JEQ_K, R3, 0, 3, 0)); // nothing asked for: the device matches, so this rule decides
      body.push(insn(OP.ALU32_MOV_X, R1, R3, 0, 0));
      body.push(insn(OP.ALU32_AND_K, R1, 0, 0, r.access));
      body.push(insn(OP.JMP_JEQ_K, R1, 0, 0, 0), 'next'); // asks for none of the denied bits
    }
    body.push(...ret(0));
  }
  // Resolve the 'next' markers: each belongs to the jump just before it.
  const out: BpfInsn[] = [];
  const fixups: number[] = [];
  for (const x of body) {
    if (x === 'next') fixups.push(out.length - 1);
    else out.push(x);
  }
  for (const i of fixups) out[i]!.off = out.length - i - 1;
  return out;
}

/**
 * The device filter for `rules` (normally effectiveDeviceRules(spec rules): the user's rules, then the default
 * allow list) as eBPF instructions. Throws CgroupError for an invalid rule, naming linux.resources.devices[i] for
 * the first `userRuleCount` rules. Pure: nothing is loaded here (see bpfProgLoadCgroupDevice).
 */
export function deviceFilterInsns(rules: readonly DeviceRule[], userRuleCount = rules.length): BpfInsn[] {
  const parsed = rules.map((r, i) => parse(r, i < userRuleCount ? i : undefined));
  // Rules before the last "a *:* rwm" can never decide anything: that rule matches every request.
  let first = 0;
  let fallback: 0 | 1 = 0; // default deny
  for (let i = parsed.length - 1; i >= 0; i--) {
    if (isFullWildcard(parsed[i]!)) {
      first = i + 1;
      fallback = parsed[i]!.allow ? 1 : 0;
      break;
    }
  }
  const prog: BpfInsn[] = [
    insn(OP.LDX_MEM_W, R2, R1, 0, 0), // r2 = ctx->access_type
    insn(OP.ALU32_AND_K, R2, 0, 0, 0xffff), // r2 = type
    insn(OP.LDX_MEM_W, R3, R1, 0, 0), // r3 = ctx->access_type
    insn(OP.ALU32_RSH_K, R3, 0, 0, 16), // r3 = access bits
    insn(OP.LDX_MEM_W, R4, R1, 4, 0), // r4 = ctx->major
    insn(OP.LDX_MEM_W, R5, R1, 8, 0), // r5 = ctx->minor
  ];
  for (let i = parsed.length - 1; i >= first; i--) {
    const r = parsed[i]!;
    if ((r.major ?? 0) > MAX_IMM || (r.minor ?? 0) > MAX_IMM) continue; // matches no device
    prog.push(...ruleBlock(r));
  }
  prog.push(...ret(fallback));
  return prog;
}

/** struct bpf_insn[] as the kernel reads it: code u8, dst_reg:4 | src_reg:4 u8 (dst in the low bits), off s16, imm s32. */
export function encodeInsns(insns: readonly BpfInsn[]): Buffer {
  const buf = Buffer.alloc(insns.length * 8);
  insns.forEach((x, i) => {
    buf.writeUInt8(x.code, i * 8);
    buf.writeUInt8(((x.src & 0xf) << 4) | (x.dst & 0xf), i * 8 + 1);
    buf.writeInt16LE(x.off, i * 8 + 2);
    buf.writeInt32LE(x.imm | 0, i * 8 + 4);
  });
  return buf;
}

export function decodeInsns(buf: Buffer): BpfInsn[] {
  const out: BpfInsn[] = [];
  for (let p = 0; p + 8 <= buf.length; p += 8) {
    const regs = buf.readUInt8(p + 1);
    out.push({ code: buf.readUInt8(p), dst: regs & 0xf, src: regs >> 4, off: buf.readInt16LE(p + 2), imm: buf.readInt32LE(p + 4) });
  }
  return out;
}

/** The device filter program for `rules`, encoded for BPF_PROG_LOAD. */
export function deviceFilterProgram(rules: readonly DeviceRule[], userRuleCount = rules.length): Buffer {
  return encodeInsns(deviceFilterInsns(rules, userRuleCount));
}

/** Print a program (in the notation of the kernel's verifier log and `bpftool prog dump xlated`). */
export function disassembleDeviceFilter(program: Buffer): string[] {
  const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;
  return decodeInsns(program).map((x, i) => {
    const d = `r${x.dst}`;
    const w = `w${x.dst}`;
    const off = x.off >= 0 ? `+${x.off}` : String(x.off);
    let text: string;
    switch (x.code) {
      case OP.LDX_MEM_W: text = `${d} = *(u32 *)(r${x.src} + ${x.off})`; break;
      case OP.ALU32_AND_K: text = `${w} &= ${hex(x.imm)}`; break;
      case OP.ALU32_RSH_K: text = `${w} >>= ${x.imm}`; break;
      case OP.ALU32_MOV_K: text = `${w} = ${x.imm}`; break;
      case OP.ALU32_MOV_X: text = `${w} = w${x.src}`; break;
      case OP.JMP_JEQ_K: text = `if ${d} == ${hex(x.imm)} goto ${off}`; break;
      case OP.JMP_JNE_K: text = `if ${d} != ${hex(x.imm)} goto ${off}`; break;
      case OP.JMP_EXIT: text = 'exit'; break;
      default: text = `(unknown opcode ${hex(x.code)})`;
    }
    return `${String(i).padStart(3)}: ${text}`;
  });
}
