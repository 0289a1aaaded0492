// Lesson 12's piece against the real kernel: writeIdMaps writes another process's /proc files and changes
// nothing of its caller, so it runs here, on a process that util-linux unshare put in a new user namespace
// (this worker, multithreaded, could not make one). The kernel's rules the lesson teaches are checked too:
// a map takes one write, and "deny" is refused once gid_map is written.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { afterEach, describe, expect, test } from 'vitest';
import { CLONE_NEWUSER, O_CLOEXEC, O_RDONLY, close, open, setns, unshare } from '../../src/linux/index.js';
import { SyscallError } from '../../src/linux/error.js';
import { idMapText, writeIdMaps } from '../../src/runtime/steps/id-maps.js';
import { exited } from '../helpers/kernel-tests.js';

const isRoot = process.getuid?.() === 0;
const children: ChildProcess[] = [];

afterEach(async () => {
  for (const c of children.splice(0)) {
    c.kill('SIGKILL');
    await exited(c).catch(() => undefined);
  }
});

/** A sleeping process in a user namespace of its own, its ids not mapped yet. */
async function unmappedProcess(): Promise<number> {
  const child = spawn('unshare', ['--user', 'sleep', '30'], { stdio: 'ignore' });
  children.push(child);
  const ours = fs.readlinkSync('/proc/self/ns/user');
  for (let i = 0; i < 200; i++) {
    try {
      if (fs.readlinkSync(`/proc/${child.pid}/ns/user`) !== ours) return child.pid!;
    } catch {
      // Not there yet.
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('unshare --user did not make its user namespace');
}

const lines = (pid: number, file: string) =>
  fs.readFileSync(`/proc/${pid}/${file}`, 'utf8').split('\n').map((l) => l.trim().split(/\s+/).join(' ')).filter(Boolean);

function errorOf(fn: () => void): SyscallError | undefined {
  try {
    fn();
  } catch (err) {
    return err as SyscallError;
  }
  return undefined;
}

describe.skipIf(!isRoot)('writeIdMaps on a process of a new user namespace', () => {
  const uids = [
    { inside: 0, outside: 100000, count: 1000 },
    { inside: 1000, outside: 1000, count: 1 },
  ];
  const gids = [{ inside: 0, outside: 100000, count: 65536 }];

  test('idMapText: one "inside outside count" line per range', () => {
    expect(idMapText(uids)).toBe('0 100000 1000\n1000 1000 1\n');
  });

  test('maps both ranges of uid_map in its one write, denies setgroups, maps the gids', async () => {
    const pid = await unmappedProcess();
    expect(lines(pid, 'uid_map')).toEqual([]);
    writeIdMaps(pid, uids, gids);
    expect(lines(pid, 'uid_map')).toEqual(['0 100000 1000', '1000 1000 1']);
    expect(lines(pid, 'gid_map')).toEqual(['0 100000 65536']);
    expect(fs.readFileSync(`/proc/${pid}/setgroups`, 'utf8').trim()).toBe('deny');
    // The ids outside: the sleeping process is host root still (it was never mapped to become another).
    expect(fs.readFileSync(`/proc/${pid}/status`, 'utf8')).toMatch(/^Uid:\s+0\s/m);
  });

  test('the maps are written once: a second call is EPERM at uid_map, and nothing changes', async () => {
    const pid = await unmappedProcess();
    writeIdMaps(pid, uids, gids);
    const err = errorOf(() => writeIdMaps(pid, gids, gids));
    expect(err).toBeInstanceOf(SyscallError);
    expect({ syscall: err!.syscall, code: err!.code, path: err!.path }).toEqual({ syscall: 'write', code: 'EPERM', path: `/proc/${pid}/uid_map` });
    expect(lines(pid, 'uid_map')).toEqual(['0 100000 1000', '1000 1000 1']);
  });

  test('a count of 0 is EINVAL and leaves uid_map empty', async () => {
    const pid = await unmappedProcess();
    const err = errorOf(() => writeIdMaps(pid, [{ inside: 0, outside: 100000, count: 0 }], gids));
    expect({ syscall: err?.syscall, code: err?.code }).toEqual({ syscall: 'write', code: 'EINVAL' });
    expect(lines(pid, 'uid_map')).toEqual([]);
  });

  test('the kernel refuses "deny" once gid_map is written (why writeIdMaps writes setgroups between the maps)', async () => {
    const pid = await unmappedProcess();
    fs.writeFileSync(`/proc/${pid}/gid_map`, idMapText(gids));
    expect(() => fs.writeFileSync(`/proc/${pid}/setgroups`, 'deny')).toThrow(/EPERM/);
    expect(fs.readFileSync(`/proc/${pid}/setgroups`, 'utf8').trim()).toBe('allow');
  });

  test('this multithreaded process can neither make nor join a user namespace: EINVAL', async () => {
    const pid = await unmappedProcess();
    expect(errorOf(() => unshare(CLONE_NEWUSER))?.code).toBe('EINVAL');
    const fd = open(`/proc/${pid}/ns/user`, O_RDONLY | O_CLOEXEC);
    try {
      expect(errorOf(() => setns(fd, CLONE_NEWUSER))?.code).toBe('EINVAL');
    } finally {
      close(fd);
    }
    expect(fs.readFileSync('/proc/self/status', 'utf8')).not.toMatch(/^Threads:\s+1$/m);
  });
});
