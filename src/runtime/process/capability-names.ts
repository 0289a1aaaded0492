// Linux capability names and numbers (include/uapi/linux/capability.h), as config.json spells them.
//
// A capability set is a 64-bit mask: bit N set means capability N is in the set (linux/capabilities.ts
// splits it into the two 32-bit words capset(2) takes).

/** Capability names indexed by their number: CAPABILITIES[0] is CAP_CHOWN, CAPABILITIES[40] is CAP_CHECKPOINT_RESTORE. */
export const CAPABILITIES: readonly string[] = Object.freeze([
  'CAP_CHOWN', // 0
  'CAP_DAC_OVERRIDE', // 1
  'CAP_DAC_READ_SEARCH', // 2
  'CAP_FOWNER', // 3
  'CAP_FSETID', // 4
  'CAP_KILL', // 5
  'CAP_SETGID', // 6
  'CAP_SETUID', // 7
  'CAP_SETPCAP', // 8
  'CAP_LINUX_IMMUTABLE', // 9
  'CAP_NET_BIND_SERVICE', // 10
  'CAP_NET_BROADCAST', // 11
  'CAP_NET_ADMIN', // 12
  'CAP_NET_RAW', // 13
  'CAP_IPC_LOCK', // 14
  'CAP_IPC_OWNER', // 15
  'CAP_SYS_MODULE', // 16
  'CAP_SYS_RAWIO', // 17
  'CAP_SYS_CHROOT', // 18
  'CAP_SYS_PTRACE', // 19
  'CAP_SYS_PACCT', // 20
  'CAP_SYS_ADMIN', // 21
  'CAP_SYS_BOOT', // 22
  'CAP_SYS_NICE', // 23
  'CAP_SYS_RESOURCE', // 24
  'CAP_SYS_TIME', // 25
  'CAP_SYS_TTY_CONFIG', // 26
  'CAP_MKNOD', // 27
  'CAP_LEASE', // 28
  'CAP_AUDIT_WRITE', // 29
  'CAP_AUDIT_CONTROL', // 30
  'CAP_SETFCAP', // 31
  'CAP_MAC_OVERRIDE', // 32
  'CAP_MAC_ADMIN', // 33
  'CAP_SYSLOG', // 34
  'CAP_WAKE_ALARM', // 35
  'CAP_BLOCK_SUSPEND', // 36
  'CAP_AUDIT_READ', // 37
  'CAP_PERFMON', // 38
  'CAP_BPF', // 39
  'CAP_CHECKPOINT_RESTORE', // 40
]);

/** The highest capability number this table knows (CAP_CHECKPOINT_RESTORE). */
export const CAP_LAST_CAP = CAPABILITIES.length - 1;

const numberByName: ReadonlyMap<string, number> = new Map(CAPABILITIES.map((name, i) => [name, i]));

/** An unknown capability name. `capability` is the name as given. */
export class CapabilityError extends Error {
  readonly capability: string;
  constructor(capability: string, message: string) {
    super(message);
    this.name = 'CapabilityError';
    this.capability = capability;
  }
}

function unknownCapabilityMessage(name: string): string {
  let hint = '';
  const upper = name.toUpperCase();
  const guess = upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
  if (numberByName.has(guess)) {
    hint = ` (did you mean ${guess}? names are upper case and start with CAP_)`;
  }
  return (
    `unknown capability ${JSON.stringify(name)}${hint}: ` +
    `capability names look like CAP_CHOWN or CAP_NET_BIND_SERVICE (see capabilities(7)); ` +
    `this runtime knows CAP_CHOWN (0) to CAP_CHECKPOINT_RESTORE (${CAP_LAST_CAP})`
  );
}

/** True if `name` is a capability name spelled exactly as config.json must spell it (`CAP_CHOWN`). */
export function isCapabilityName(name: string): boolean {
  return numberByName.has(name);
}

/** The number of a capability name (`CAP_KILL` → 5). Names are case-sensitive, as in runc. */
export function capabilityNumber(name: string): number {
  const n = numberByName.get(name);
  if (n === undefined) throw new CapabilityError(name, unknownCapabilityMessage(name));
  return n;
}

/** The name of a capability number (5 → `CAP_KILL`); numbers this table does not know print as `CAP_<n>`. */
export function capabilityName(num: number): string {
  return CAPABILITIES[num] ?? `CAP_${num}`;
}

/** The 64-bit mask with one bit set per named capability. Duplicates are harmless; an unknown name throws CapabilityError. */
export function capsToMask(names: readonly string[]): bigint {
  let mask = 0n;
  for (const name of names) mask |= 1n << BigInt(capabilityNumber(name));
  return mask;
}

/** The capability names whose bits are set in `mask`, lowest number first. Bits above CAP_LAST_CAP print as `CAP_<n>`. */
export function maskToCaps(mask: bigint): string[] {
  const names: string[] = [];
  for (let i = 0; i < 64; i++) if ((mask >> BigInt(i)) & 1n) names.push(capabilityName(i));
  return names;
}

/** Docker's (and podman's) default capability set for a container: what `tslab run` and the lab's lesson container keep. */
export const DOCKER_DEFAULT_CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];
