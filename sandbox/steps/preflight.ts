// LESSON 0 — Preflight: what this machine offers
//
// Before building a container, check that the kernel knows the filesystems it needs. /proc/filesystems
// lists every filesystem type the running kernel supports, one a line: "nodev\tproc" (no device behind
// it) or "\text4". Write filesystemSupported(name): read the file, and return true when the last
// tab-separated field of some line is exactly `name` (mind the empty line after the last newline).
import { readFileSync } from 'node:fs';
import { NotWrittenYet } from '../lab-support.js';

export function filesystemSupported(name: string): boolean {
  // TODO(lesson 0): read /proc/filesystems and look for `name` in the last column of each line.
  throw new NotWrittenYet(0, 'filesystemSupported', 'preflight.ts', "readFileSync('/proc/filesystems', 'utf8').split('\\n'), then line.split('\\t') and compare the last field");
}
