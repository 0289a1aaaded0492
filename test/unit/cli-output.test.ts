// The runtime CLI's output goes straight to its fds (src/cli/output.ts): everything arrives, in order, even
// through a non-blocking pipe that fills up (partial writes, then EAGAIN until the reader catches up).
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { writeAll } from '../../src/cli/output.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-output-'));
  dirs.push(dir);
  return dir;
}

test('a file gets the text whole', () => {
  const file = path.join(tempDir(), 'out');
  const fd = fs.openSync(file, 'w');
  writeAll(fd, 'état: {"status": "running"}\n');
  writeAll(fd, 'second\n');
  fs.closeSync(fd);
  expect(fs.readFileSync(file, 'utf8')).toBe('état: {"status": "running"}\nsecond\n');
});

test('a non-blocking pipe 16 times its capacity, read late: every byte arrives, in order', async () => {
  const dir = tempDir();
  const fifo = path.join(dir, 'fifo');
  const out = path.join(dir, 'out');
  const made = spawn('mkfifo', [fifo]);
  await new Promise((resolve) => made.on('exit', resolve));
  // The reader opens its end at once but reads only 0.3 s later: the first write fills the pipe and stops short,
  // and the next ones meet EAGAIN until cat drains it.
  const reader = spawn('/bin/sh', ['-c', 'exec 3<"$1"; sleep 0.3; exec cat <&3 >"$2"', 'sh', fifo, out]);
  const readerDone = new Promise((resolve) => reader.on('exit', resolve));
  let fd = -1;
  for (const deadline = Date.now() + 10_000; fd < 0; ) {
    try {
      fd = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    } catch (err) {
      // ENXIO: cat has not opened its end yet.
      if ((err as NodeJS.ErrnoException).code !== 'ENXIO' || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  const text = Array.from({ length: 16 * 1024 }, (_, i) => `${String(i).padStart(62, '.')}\n`).join('');
  writeAll(fd, text);
  fs.closeSync(fd);
  await readerDone;
  expect(fs.readFileSync(out, 'utf8') === text, 'the reader got exactly what was written').toBe(true);
});
