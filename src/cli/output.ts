// What tslab-runtime prints, written straight to fds 1 and 2. process.stdout and process.stderr are streams that
// Node builds on first use, loading its stream modules (and node:net for a pipe): measured here, a first write
// took 3-6 ms to a file and 5-8 ms to a pipe (twice that on a busy machine), fs.writeSync 0.3 ms. Engines run
// `state` over a pipe all the time, and it prints one document and exits.
import * as fs from 'node:fs';

const pause = new Int32Array(new SharedArrayBuffer(4));

/** Writes all of `text` to `fd`; a non-blocking fd that is full (EAGAIN) is waited for, 1 ms at a time. */
export function writeAll(fd: number, text: string): void {
  let rest = Buffer.from(text);
  while (rest.length > 0) {
    try {
      rest = rest.subarray(fs.writeSync(fd, rest));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}

export function writeOut(text: string): void {
  writeAll(1, text);
}

/** Stderr is where failures are told: if it cannot be written either, there is no one left to tell. */
export function writeErr(text: string): void {
  try {
    writeAll(2, text);
  } catch {
    // stderr closed or gone
  }
}
