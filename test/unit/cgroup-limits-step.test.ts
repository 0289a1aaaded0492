// Lesson 7's setLimits by the names of each cgroup version. This machine is cgroup v1 (hybrid), so the
// kernel runs only the v1 branch; here both branches write into directories laid out like a cgroup of
// each version (empty control files: the step writes a file only where the directory has it).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { createCgroup, setLimits } from '../../src/runtime/steps/cgroup-join.js';

const LIMITS = { memoryBytes: 50331648, pids: 32, cpuQuotaUs: 20000, cpuPeriodUs: 100000 };
const made: string[] = [];

afterEach(() => {
  for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** A directory holding these (empty) control files. */
function cgroupLike(files: string[]): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-unit-limits-'));
  made.push(dir);
  for (const file of files) fs.writeFileSync(path.join(dir, file), '');
  return dir;
}

/** Every control file's content, by name; files left empty are the ones not written. */
function contents(dir: string): Record<string, string> {
  return Object.fromEntries(fs.readdirSync(dir).sort().map((f) => [f, fs.readFileSync(path.join(dir, f), 'utf8')]));
}

describe('setLimits', () => {
  test('v2 (the directory has cgroup.controllers): memory.max, memory.swap.max 0, pids.max, cpu.max "QUOTA PERIOD"', () => {
    const dir = cgroupLike(['cgroup.controllers', 'cgroup.procs', 'memory.max', 'memory.swap.max', 'pids.max', 'cpu.max', 'memory.high']);
    setLimits(dir, LIMITS);
    expect(contents(dir)).toEqual({
      'cgroup.controllers': '',
      'cgroup.procs': '',
      'cpu.max': '20000 100000',
      'memory.high': '',
      'memory.max': '50331648',
      'memory.swap.max': '0',
      'pids.max': '32',
    });
  });

  test('v2 without swap accounting or a cpu controller: only the files that are there', () => {
    const dir = cgroupLike(['cgroup.controllers', 'memory.max', 'pids.max']);
    setLimits(dir, LIMITS);
    expect(contents(dir)).toEqual({ 'cgroup.controllers': '', 'memory.max': '50331648', 'pids.max': '32' });
  });

  test('v1 memory hierarchy: memory.limit_in_bytes and memory.memsw.limit_in_bytes, no v2 names made', () => {
    const dir = cgroupLike(['cgroup.procs', 'memory.limit_in_bytes', 'memory.memsw.limit_in_bytes']);
    setLimits(dir, LIMITS);
    expect(contents(dir)).toEqual({ 'cgroup.procs': '', 'memory.limit_in_bytes': '50331648', 'memory.memsw.limit_in_bytes': '50331648' });
  });

  test('v1 cpu and pids hierarchies: cfs period and quota, pids.max', () => {
    const cpu = cgroupLike(['cpu.cfs_period_us', 'cpu.cfs_quota_us', 'cpu.shares']);
    setLimits(cpu, LIMITS);
    expect(contents(cpu)).toEqual({ 'cpu.cfs_period_us': '100000', 'cpu.cfs_quota_us': '20000', 'cpu.shares': '' });
    const pids = cgroupLike(['pids.max', 'pids.current']);
    setLimits(pids, LIMITS);
    expect(contents(pids)).toEqual({ 'pids.current': '', 'pids.max': '32' });
  });
});

describe('createCgroup', () => {
  test('one mkdir below the parent; an existing cgroup is an error, not reused', () => {
    const parent = cgroupLike([]);
    const dir = createCgroup(parent, 'lesson-7');
    expect(dir).toBe(path.join(parent, 'lesson-7'));
    expect(fs.statSync(dir).isDirectory()).toBe(true);
    expect(() => createCgroup(parent, 'lesson-7')).toThrow(/EEXIST/);
  });
});
