// Turning the `options` of a config.json mount into the arguments of mount(2), the way runc 1.1.5 does
// (libcontainer/specconv/spec_linux.go, parseMountOptions).
//
// Each option is looked up in turn:
//   - a mount flag ("ro", "nosuid", "bind", ...) sets or clears an MS_* bit; later options win, so
//     ["ro", "rw"] ends up read-write;
//   - a propagation name ("rprivate", "shared", ...) is appended to `propagation`, applied after mounting
//     with a separate mount(2) call each;
//   - a recursive attribute ("rro", "rnosuid", ...) goes into MOUNT_ATTR_* masks for mount_setattr(2);
//   - "tmpcopyup" is a runc extension (copy the directory's old contents into a new tmpfs);
//   - anything else ("mode=755", "size=65536k", "newinstance", "gid=5", and even "defaults") is
//     filesystem-specific data, passed to the filesystem joined with commas.

import {
  MS_RDONLY,
  MS_NOSUID,
  MS_NODEV,
  MS_NOEXEC,
  MS_SYNCHRONOUS,
  MS_REMOUNT,
  MS_MANDLOCK,
  MS_DIRSYNC,
  MS_NOSYMFOLLOW,
  MS_NOATIME,
  MS_NODIRATIME,
  MS_BIND,
  MS_REC,
  MS_SILENT,
  MS_POSIXACL,
  MS_UNBINDABLE,
  MS_PRIVATE,
  MS_SLAVE,
  MS_SHARED,
  MS_RELATIME,
  MS_I_VERSION,
  MS_STRICTATIME,
  MS_LAZYTIME,
  MOUNT_ATTR_RDONLY,
  MOUNT_ATTR_NOSUID,
  MOUNT_ATTR_NODEV,
  MOUNT_ATTR_NOEXEC,
  MOUNT_ATTR__ATIME,
  MOUNT_ATTR_RELATIME,
  MOUNT_ATTR_NOATIME,
  MOUNT_ATTR_STRICTATIME,
  MOUNT_ATTR_NODIRATIME,
  MOUNT_ATTR_NOSYMFOLLOW,
} from '../../linux/mount.js';

export interface MountOptions {
  /** MS_* flags for mount(2). */
  flags: number;
  /** MS_* flags an option explicitly turned off ("rw", "suid", "atime", ...) and no later option turned back on. */
  clearFlags: number;
  /** Propagation changes to apply after the mount, in order, e.g. [MS_PRIVATE | MS_REC]. */
  propagation: number[];
  /** Filesystem-specific options, joined by ',' ('' when there are none). */
  data: string;
  /** "rbind": the bind mount includes the mounts below the source (MS_BIND | MS_REC). */
  recursive: boolean;
  /** "bind" or "rbind": this is a bind mount (MS_BIND). */
  bind: boolean;
  /** MOUNT_ATTR_* to set recursively with mount_setattr(2) ("rro", "rnosuid", ...). */
  attrSet: number;
  /** MOUNT_ATTR_* to clear recursively with mount_setattr(2) ("rrw", "rsuid", ...). */
  attrClear: number;
  /** runc's "tmpcopyup" extension: after mounting a tmpfs, copy in what the directory held before. */
  tmpcopyup: boolean;
}

/** Option name → [clears the flag?, MS_* flag]. A flag of 0 means "not a flag" ("defaults" ends up in data, as in runc). */
const MOUNT_FLAGS: ReadonlyMap<string, readonly [boolean, number]> = new Map([
  ['acl', [false, MS_POSIXACL]],
  ['async', [true, MS_SYNCHRONOUS]],
  ['atime', [true, MS_NOATIME]],
  ['bind', [false, MS_BIND]],
  ['defaults', [false, 0]],
  ['dev', [true, MS_NODEV]],
  ['diratime', [true, MS_NODIRATIME]],
  ['dirsync', [false, MS_DIRSYNC]],
  ['exec', [true, MS_NOEXEC]],
  ['iversion', [false, MS_I_VERSION]],
  ['lazytime', [false, MS_LAZYTIME]],
  ['loud', [true, MS_SILENT]],
  ['mand', [false, MS_MANDLOCK]],
  ['noacl', [true, MS_POSIXACL]],
  ['noatime', [false, MS_NOATIME]],
  ['nodev', [false, MS_NODEV]],
  ['nodiratime', [false, MS_NODIRATIME]],
  ['noexec', [false, MS_NOEXEC]],
  ['noiversion', [true, MS_I_VERSION]],
  ['nolazytime', [true, MS_LAZYTIME]],
  ['nomand', [true, MS_MANDLOCK]],
  ['norelatime', [true, MS_RELATIME]],
  ['nostrictatime', [true, MS_STRICTATIME]],
  ['nosuid', [false, MS_NOSUID]],
  ['nosymfollow', [false, MS_NOSYMFOLLOW]],
  ['rbind', [false, MS_BIND | MS_REC]],
  ['relatime', [false, MS_RELATIME]],
  ['remount', [false, MS_REMOUNT]],
  ['ro', [false, MS_RDONLY]],
  ['rw', [true, MS_RDONLY]],
  ['silent', [false, MS_SILENT]],
  ['strictatime', [false, MS_STRICTATIME]],
  ['suid', [true, MS_NOSUID]],
  ['sync', [false, MS_SYNCHRONOUS]],
  ['symfollow', [true, MS_NOSYMFOLLOW]],
]);

/** Propagation names → flags for a mount(2) propagation change. '' means "not set" (0). */
const PROPAGATION: ReadonlyMap<string, number> = new Map([
  ['rprivate', MS_PRIVATE | MS_REC],
  ['private', MS_PRIVATE],
  ['rslave', MS_SLAVE | MS_REC],
  ['slave', MS_SLAVE],
  ['rshared', MS_SHARED | MS_REC],
  ['shared', MS_SHARED],
  ['runbindable', MS_UNBINDABLE | MS_REC],
  ['unbindable', MS_UNBINDABLE],
  ['', 0],
]);

/** Recursive attribute names → [clears?, MOUNT_ATTR_*]. */
const REC_ATTRS: ReadonlyMap<string, readonly [boolean, number]> = new Map([
  ['rro', [false, MOUNT_ATTR_RDONLY]],
  ['rrw', [true, MOUNT_ATTR_RDONLY]],
  ['rnosuid', [false, MOUNT_ATTR_NOSUID]],
  ['rsuid', [true, MOUNT_ATTR_NOSUID]],
  ['rnodev', [false, MOUNT_ATTR_NODEV]],
  ['rdev', [true, MOUNT_ATTR_NODEV]],
  ['rnoexec', [false, MOUNT_ATTR_NOEXEC]],
  ['rexec', [true, MOUNT_ATTR_NOEXEC]],
  ['rnodiratime', [false, MOUNT_ATTR_NODIRATIME]],
  ['rdiratime', [true, MOUNT_ATTR_NODIRATIME]],
  ['rrelatime', [false, MOUNT_ATTR_RELATIME]],
  ['rnorelatime', [true, MOUNT_ATTR_RELATIME]],
  ['rnoatime', [false, MOUNT_ATTR_NOATIME]],
  ['ratime', [true, MOUNT_ATTR_NOATIME]],
  ['rstrictatime', [false, MOUNT_ATTR_STRICTATIME]],
  ['rnostrictatime', [true, MOUNT_ATTR_STRICTATIME]],
  ['rnosymfollow', [false, MOUNT_ATTR_NOSYMFOLLOW]],
  ['rsymfollow', [true, MOUNT_ATTR_NOSYMFOLLOW]],
]);

/** Parse a mount's `options` the way runc does. Never fails: anything unknown is filesystem data. */
export function parseMountOptions(options: readonly string[] | undefined): MountOptions {
  let flags = 0;
  let clearFlags = 0;
  let attrSet = 0;
  let attrClear = 0;
  let tmpcopyup = false;
  const propagation: number[] = [];
  const data: string[] = [];
  for (const option of options ?? []) {
    const flag = MOUNT_FLAGS.get(option);
    const prop = PROPAGATION.get(option);
    const attr = REC_ATTRS.get(option);
    if (flag !== undefined && flag[1] !== 0) {
      const [clear, bit] = flag;
      if (clear) {
        flags &= ~bit;
        clearFlags |= bit;
      } else {
        flags |= bit;
        clearFlags &= ~bit;
      }
    } else if (prop !== undefined && prop !== 0) {
      propagation.push(prop);
    } else if (attr !== undefined) {
      const [clear, bit] = attr;
      if (clear) {
        attrClear |= bit;
      } else {
        attrSet |= bit;
        // mount_setattr(2): an access-time setting must also clear the whole MOUNT_ATTR__ATIME field.
        if ((bit & MOUNT_ATTR__ATIME) === bit) attrClear |= MOUNT_ATTR__ATIME;
      }
    } else if (option === 'tmpcopyup') {
      tmpcopyup = true;
    } else {
      data.push(option);
    }
  }
  return {
    flags,
    clearFlags,
    propagation,
    data: data.join(','),
    recursive: (flags & MS_BIND) !== 0 && (flags & MS_REC) !== 0,
    bind: (flags & MS_BIND) !== 0,
    attrSet,
    attrClear,
    tmpcopyup,
  };
}

/** A propagation name that is not one. */
export class MountOptionError extends Error {
  readonly option: string;
  constructor(option: string, message: string) {
    super(message);
    this.name = 'MountOptionError';
    this.option = option;
  }
}

/**
 * The flags for a `linux.rootfsPropagation` value: "rprivate" → MS_PRIVATE | MS_REC and so on.
 * '' (not set) gives 0, which callers treat as runc's default for the root: MS_SLAVE | MS_REC.
 */
export function parsePropagation(name: string): number {
  const flags = PROPAGATION.get(name);
  if (flags === undefined) {
    // runc: "rootfsPropagation=<name> is not supported".
    throw new MountOptionError(
      name,
      `rootfsPropagation=${name} is not supported: use one of private, rprivate, slave, rslave, shared, ` +
        `rshared, unbindable or runbindable (see mount_namespaces(7))`,
    );
  }
  return flags;
}

/** Every option name this parser understands (the rest is data), sorted, as `runc features` lists them. */
export function knownMountOptions(): string[] {
  const names = [...MOUNT_FLAGS.keys(), ...PROPAGATION.keys(), ...REC_ATTRS.keys(), 'tmpcopyup'].filter((n) => n !== '');
  return [...new Set(names)].sort();
}
