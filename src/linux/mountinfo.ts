// /proc/<pid>/mountinfo, one entry per mount (see proc(5)).

export interface MountinfoEntry {
  root: string;
  mountPoint: string;
  /** "shared:N", "master:N", "propagate_from:N", "unbindable": the propagation of the mount. */
  optionalFields: string[];
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
      root: unescapeMountinfo(fields[3]!),
      mountPoint: unescapeMountinfo(fields[4]!),
      optionalFields: fields.slice(6, sep),
      fsType: fields[sep + 1]!,
      superOptions: fields[sep + 3]!.split(','),
    });
  }
  return entries;
}
