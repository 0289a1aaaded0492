// /proc/<pid>/mountinfo, one entry per mount (see proc(5)).
import * as fs from 'node:fs';

export interface MountinfoEntry {
  /** "major:minor" of the filesystem's device. */
  device: string;
  /** The path of the mounted directory inside its filesystem ("/" for a whole filesystem). */
  root: string;
  mountPoint: string;
  /** "shared:N", "master:N", "propagate_from:N", "unbindable": the propagation of the mount. */
  optionalFields: string[];
  /** Per-mount options: "rw", "nosuid", "nodev", "noexec", ... */
  mountOptions: string[];
  fsType: string;
  superOptions: string[];
}

/** mountinfo escapes space, tab, newline and backslash as \040 \011 \012 \134. */
function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

export function parseMountinfo(text: string): MountinfoEntry[] {
  const entries: MountinfoEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const fields = line.split(' ');
    const sep = fields.indexOf('-', 6);
    if (sep < 0 || fields.length < sep + 4) continue; // malformed: skip rather than fail
    entries.push({
      device: fields[2]!,
      root: unescapeMountinfo(fields[3]!),
      mountPoint: unescapeMountinfo(fields[4]!),
      mountOptions: fields[5]!.split(','),
      optionalFields: fields.slice(6, sep),
      fsType: fields[sep + 1]!,
      superOptions: fields[sep + 3]!.split(','),
    });
  }
  return entries;
}

/** The mounts of a process's mount namespace as it sees them; [] when its mountinfo cannot be read. */
export function readMountinfo(pid: number | 'self'): MountinfoEntry[] {
  try {
    return parseMountinfo(fs.readFileSync(`/proc/${pid}/mountinfo`, 'utf8'));
  } catch {
    return [];
  }
}
