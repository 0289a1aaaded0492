// Lesson 0: can this kernel mount the filesystems a container needs? /proc/filesystems lists every
// filesystem type the running kernel knows, one a line: "nodev\tproc" (no block device behind it) or
// "\text4". A type missing there makes mount(2) fail with ENODEV.
import { readFileSync } from 'node:fs';

export function filesystemSupported(name: string): boolean {
  const types = readFileSync('/proc/filesystems', 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => line.split('\t').pop()!.trim());
  return types.includes(name);
}
