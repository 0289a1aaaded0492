// The kernel's log as /dev/kmsg hands it out, one record per read: where a filesystem says why it refused a
// mount that mount(2) only answers with EINVAL ("overlayfs: missing 'workdir'").
import * as fs from 'node:fs';

export interface KernelRecord {
  seq: number;
  message: string;
}

/** Every record the kernel still holds; [] where /dev/kmsg cannot be read (not root, or a container without it). */
export function readKernelLog(): KernelRecord[] {
  let fd: number;
  try {
    fd = fs.openSync('/dev/kmsg', fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch {
    return [];
  }
  const records: KernelRecord[] = [];
  const buf = Buffer.alloc(8192);
  try {
    for (;;) {
      let n: number;
      try {
        n = fs.readSync(fd, buf, 0, buf.length, null);
      } catch (err) {
        // EPIPE: the record we were at was overwritten; the next read goes on from the oldest one left.
        if ((err as NodeJS.ErrnoException).code === 'EPIPE') continue;
        break; // EAGAIN: no more records
      }
      // "priority,seq,usec,flags;message\n" then continuation lines.
      const text = buf.subarray(0, n).toString('utf8');
      const semicolon = text.indexOf(';');
      const seq = Number(text.slice(0, semicolon).split(',')[1]);
      if (semicolon > 0 && Number.isInteger(seq)) records.push({ seq, message: text.slice(semicolon + 1).split('\n')[0] });
    }
  } finally {
    fs.closeSync(fd);
  }
  return records;
}

/** The sequence number of the newest record (-1 when none can be read). */
export function kernelLogEnd(): number {
  return readKernelLog().reduce((max, r) => Math.max(max, r.seq), -1);
}

/** Messages logged after `end` (from kernelLogEnd) that start with `prefix`. */
export function kernelMessagesSince(end: number, prefix: string): string[] {
  return readKernelLog()
    .filter((r) => r.seq > end && r.message.startsWith(prefix))
    .map((r) => r.message);
}
