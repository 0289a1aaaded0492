// /proc/<pid>/stat read through an fd of the /proc/<pid> directory. Apart from proc.ts, which uses node:fs only,
// because this needs openat (koffi): the port proxy and other small helpers load proc.ts without the FFI.
import * as fs from 'node:fs';
import { O_CLOEXEC, O_RDONLY, close, openat } from './fs.js';
import { type ProcStat, parseProcStat } from './proc.js';

/**
 * readProcStat through `procDir`, an fd of a /proc/<pid> directory: it keeps naming that process (or
 * nothing, once it has exited) even after the caller's /proc has come to mean another PID namespace's.
 */
export function readProcStatAt(procDir: number): ProcStat | undefined {
  let fd: number;
  try {
    fd = openat(procDir, 'stat', O_RDONLY | O_CLOEXEC);
  } catch {
    return undefined;
  }
  try {
    return parseProcStat(fs.readFileSync(fd, 'utf8'));
  } catch {
    return undefined;
  } finally {
    close(fd);
  }
}
