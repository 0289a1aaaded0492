import { readFileSync } from 'node:fs';
import { check, fn } from './libc.js';
import { PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, PR_CAP_AMBIENT_RAISE, prctl } from './process.js';

const LINUX_CAPABILITY_VERSION_3 = 0x20080522;

export interface CapSets {
  effective: bigint;
  permitted: bigint;
  inheritable: bigint;
}

// struct __user_cap_header_struct { u32 version; int pid; }
function header(pid: number): Buffer {
  const buf = Buffer.alloc(8);
  buf.writeUInt32LE(LINUX_CAPABILITY_VERSION_3, 0);
  buf.writeInt32LE(pid, 4);
  return buf;
}

// Two struct __user_cap_data_struct { u32 effective, permitted, inheritable; }: low 32 bits, then high.
const FIELDS = ['effective', 'permitted', 'inheritable'] as const;

/** Sets the calling thread's effective, permitted and inheritable sets. */
export function capset(sets: CapSets): void {
  const data = Buffer.alloc(24);
  FIELDS.forEach((field, i) => {
    data.writeUInt32LE(Number(sets[field] & 0xffffffffn), i * 4);
    data.writeUInt32LE(Number((sets[field] >> 32n) & 0xffffffffn), 12 + i * 4);
  });
  check(fn('int capset(uint8_t *hdr, uint8_t *data)')(header(0), data), 'capset');
}

export function capget(pid = 0): CapSets {
  const data = Buffer.alloc(24);
  check(fn('int capget(uint8_t *hdr, uint8_t *data)')(header(pid), data), 'capget');
  const read = (i: number) => (BigInt(data.readUInt32LE(12 + i * 4)) << 32n) | BigInt(data.readUInt32LE(i * 4));
  return { effective: read(0), permitted: read(1), inheritable: read(2) };
}

export function setAmbient(caps: bigint, lastCap: number): void {
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL);
  for (let cap = 0; cap <= lastCap; cap++) {
    if (caps & (1n << BigInt(cap))) prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap);
  }
}

/** The highest capability number this kernel knows. */
export function lastCapability(): number {
  return Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8'));
}
