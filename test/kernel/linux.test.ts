// The syscall layer against the real kernel (namespace calls are exercised by the lifecycle suite, whose
// containers are made with them: the test worker itself is never moved into another namespace).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { capget } from '../../src/linux/capabilities.js';
import { errnoName, errnoNumber } from '../../src/linux/errno.js';
import { SyscallError } from '../../src/linux/error.js';
import { MS_BIND, mount } from '../../src/linux/mount.js';
import { prlimit } from '../../src/linux/process.js';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-linux-test-'));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe('errno names', () => {
  test('numbers map to the kernel names both ways', () => {
    expect(errnoName(1)).toBe('EPERM');
    expect(errnoName(16)).toBe('EBUSY');
    expect(errnoNumber('ENOENT')).toBe(2);
    expect(errnoName(9999)).toBe('E9999');
  });
});

describe('SyscallError', () => {
  test('a failed mount names the call, the path, the errno and says what it means', () => {
    const target = path.join(work, 'does-not-exist');
    let caught: unknown;
    try {
      mount(null, target, null, MS_BIND);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(SyscallError);
    const err = caught as SyscallError;
    expect(err.syscall).toBe('mount');
    expect(err.code).toBe('ENOENT');
    expect(err.path).toBe(target);
    expect(err.message).toBe(`mount ${target}: ENOENT — the mount point or source does not exist`);
  });

  test('a hint specific to the call wins over the generic errno text', () => {
    expect(new SyscallError('pivot_root', 16, '/x').message).toBe(
      'pivot_root /x: EBUSY — the new root must be a mount point; bind-mount it onto itself first',
    );
    expect(new SyscallError('chdir', 16, '/x').message).toBe('chdir /x: EBUSY — device or resource busy');
  });
});

describe('process and capability calls on this process', () => {
  test('capget reads the same sets /proc shows', () => {
    const status = fs.readFileSync('/proc/self/status', 'utf8');
    const eff = BigInt(`0x${/CapEff:\s+([0-9a-f]+)/.exec(status)![1]}`);
    expect(capget().effective).toBe(eff);
  });

  test('prlimit on a child process is visible in its /proc limits', () => {
    const child = execFileSync('sh', ['-c', 'sleep 5 >/dev/null 2>&1 & echo $!'], { encoding: 'utf8' }).trim();
    const pid = Number(child);
    try {
      prlimit(pid, 4 /* RLIMIT_CORE */, 1234, 5678, 'RLIMIT_CORE');
      expect(fs.readFileSync(`/proc/${pid}/limits`, 'utf8')).toMatch(/Max core file size\s+1234\s+5678/);
    } finally {
      process.kill(pid, 'SIGKILL');
    }
  });
});
